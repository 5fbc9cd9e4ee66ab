"""Builds the typed :class:`RuntimeConfig` from :class:`Settings` (the one place that maps them).

Flat knobs (zone, grace periods, the identity key) come from ``MATINEE_*`` settings. Structured
ones come from an optional TOML file named by ``MATINEE_RUNTIME_CONFIG``::

    [discovery]                 # DiscoveryConfig: durations in seconds
    renewal_interval = 30
    lease_duration = 90

    [default_dependency]        # DependencyConfig for every dependency not named below
    timeout_s = 1.0
    max_concurrent = 10

    [dependencies.media]        # per dependency, with a nested breaker table
    timeout_s = 2.0
    breaker = { request_volume_threshold = 20, error_threshold_pct = 50 }

    [limit]                     # the server's adaptive concurrency limit
    enabled = true

    [gateway]                   # GatewayConfig, with [[gateway.routes]] tables
    max_body_bytes = 1048576

Unknown keys and wrong types are refused with the offending key named.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from matinee.discovery.config import DiscoveryConfig
from matinee.errors import MatineeError
from matinee.gateway.config import GatewayConfig
from matinee.resilience.dependency import DependencyConfig
from matinee.runtime.context import LimitConfig, RuntimeConfig
from matinee.settings import Settings

_TABLES = {"discovery", "default_dependency", "dependencies", "limit", "gateway", "balancer"}


class ConfigError(MatineeError):
    """The runtime configuration file is missing, unreadable or invalid."""


def identity_key(settings: Settings) -> bytes:
    """The fleet-wide identity signing key: from settings, else kept in the data directory so
    every process of a fleet (and every restart) shares it."""
    return shared_key(settings.identity_key, settings.data_dir / "identity.key")


def url_signing_key(settings: Settings) -> bytes:
    """The key media URLs are signed with (playback signs, the origin and edges verify)."""
    return shared_key(settings.url_signing_key, settings.data_dir / "url-signing.key")


def shared_key(configured: str | None, path: Path) -> bytes:
    """``configured``, else a random key made once and kept at ``path`` (first writer wins)."""
    if configured:
        return configured.encode()
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
    tmp.write_bytes(secrets.token_hex(32).encode())
    tmp.chmod(0o600)
    try:
        os.link(tmp, path)  # atomic: fails if another process made the key first
    except FileExistsError:
        pass  # keep whichever key landed first, so the whole fleet agrees
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes().strip()


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError as exc:
        raise ConfigError(f"runtime config {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"runtime config {path} is not valid TOML: {exc}") from exc
    unknown = set(doc) - _TABLES
    if unknown:
        raise ConfigError(
            f"runtime config {path}: unknown table(s) {', '.join(sorted(unknown))}; "
            f"expected {', '.join(sorted(_TABLES))}"
        )
    return doc


def _dependency(where: str, value: Any) -> DependencyConfig:
    try:
        return TypeAdapter(DependencyConfig).validate_python(value)
    except (ValidationError, TypeError, ValueError) as exc:
        raise ConfigError(f"runtime config [{where}]: {exc}") from exc


def load_runtime_config(settings: Settings) -> RuntimeConfig:
    """The runtime configuration for one process, from settings and the optional TOML file."""
    doc = _read_toml(settings.runtime_config) if settings.runtime_config else {}
    try:
        discovery = DiscoveryConfig.model_validate(doc.get("discovery", {}))
        gateway = GatewayConfig.model_validate(doc.get("gateway", {}))
        limit = TypeAdapter(LimitConfig).validate_python(doc.get("limit", {}))
    except (ValidationError, TypeError, ValueError) as exc:
        raise ConfigError(f"runtime config: {exc}") from exc
    base = RuntimeConfig()
    default = (
        _dependency("default_dependency", doc["default_dependency"])
        if "default_dependency" in doc
        else base.default_dependency
    )
    dependencies = dict(base.dependencies)  # built-in defaults, overridden per name by the file
    dependencies.update(
        (name, _dependency(f"dependencies.{name}", value))
        for name, value in doc.get("dependencies", {}).items()
    )
    return replace(
        base,
        topology=settings.topology,
        zone=settings.zone,
        host=settings.host,
        drain_timeout=settings.drain_timeout,
        deregister_grace=settings.deregister_grace,
        discovery=discovery,
        gateway=gateway,
        limit=limit,
        default_dependency=default,
        dependencies=dependencies,
        identity_key=identity_key(settings),
        url_signing_key=url_signing_key(settings),
        fault_injection=settings.fault_injection,
    )
