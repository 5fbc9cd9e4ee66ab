"""Routes: which service answers which path prefix, and how the gateway treats its requests.

Routes come from config (:class:`RouteConfig`, e.g. a ``[[routes]]`` table in TOML) and are
turned into frozen :class:`Route` objects once, at start. On the hot path :class:`RouteTable`
finds the longest matching prefix with at most one dict lookup per path segment.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from matinee.errors import MatineeError

AuthPolicy = Literal["none", "optional", "required"]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})

# Priority classes of Netflix's request taxonomy (1-100, higher is more important).
CRITICAL = 100  # playback start: losing it means a member cannot watch
DEGRADED = 60  # browse, history: losing it degrades the experience
NON_CRITICAL = 20  # prefetch, logging, telemetry: nobody notices for a while

INTERNAL_PREFIX = "/internal"  # services' routes for each other: the gateway never routes them

# tus uploads of masters (/api/media/uploads): a chunk is 8 MiB, and its PATCH is answered once
# the chunk is stored. Their time is the client's bandwidth, so they do not teach load shedding
# the media service's latency (``latency_signal``).
UPLOAD_MAX_BODY = 16 * 1024 * 1024
UPLOAD_TIMEOUT_S = 120.0


class RouteConfigError(MatineeError):
    """The route configuration is inconsistent (duplicate prefix, bad prefix, ...)."""


@dataclass(frozen=True, slots=True)
class StaticFallback:
    """Serve a fixed response when the upstream fails (Zuul's FallbackProvider)."""

    status: int = 200
    body: bytes = b"null"
    content_type: str = "application/json"

    @classmethod
    def of_json(cls, value: JsonValue, status: int = 200) -> StaticFallback:
        return cls(status=status, body=json.dumps(value, separators=(",", ":")).encode())


@dataclass(frozen=True, slots=True)
class LastGoodFallback:
    """Serve the last successful answer to the same GET (same path, query and caller)."""

    max_age: float = 300.0
    max_entries: int = 1000


Fallback = StaticFallback | LastGoodFallback


@dataclass(frozen=True, slots=True)
class Route:
    """One prefix routed to one service."""

    prefix: str
    service: str
    name: str = ""
    strip_prefix: bool = False
    priority: int = DEGRADED
    idempotent_methods: frozenset[str] = IDEMPOTENT_METHODS
    timeout: float | None = None
    fallback: Fallback | None = None
    auth: AuthPolicy = "optional"
    max_body: int | None = None
    rate_limited: bool = True
    # whether answers on this route count in the service's latency for load shedding
    latency_signal: bool = True
    _raw_prefix: bytes = field(default=b"", repr=False, compare=False)

    def __post_init__(self) -> None:
        prefix = normalize_prefix(self.prefix)
        object.__setattr__(self, "prefix", prefix)
        object.__setattr__(self, "_raw_prefix", prefix.encode())
        if not self.name:
            object.__setattr__(self, "name", self.service)
        if not 1 <= self.priority <= 100:
            raise RouteConfigError(f"route {prefix}: priority must be 1-100, not {self.priority}")

    def upstream_path(self, raw_path: str) -> str:
        """The path (still percent-encoded) the upstream service sees."""
        if not self.strip_prefix or self.prefix == "/":
            return raw_path
        if raw_path.startswith(self.prefix):
            rest = raw_path[len(self.prefix) :]
            return rest if rest.startswith("/") else "/" + rest
        return raw_path

    def describe(self) -> dict[str, object]:
        fallback: str | None = None
        if isinstance(self.fallback, StaticFallback):
            fallback = "static"
        elif isinstance(self.fallback, LastGoodFallback):
            fallback = "last-good"
        return {
            "name": self.name,
            "prefix": self.prefix,
            "service": self.service,
            "strip_prefix": self.strip_prefix,
            "priority": self.priority,
            "idempotent_methods": sorted(self.idempotent_methods),
            "timeout": self.timeout,
            "fallback": fallback,
            "auth": self.auth,
            "max_body": self.max_body,
            "rate_limited": self.rate_limited,
        }


def normalize_prefix(prefix: str) -> str:
    if not prefix.startswith("/"):
        raise RouteConfigError(f"a route prefix starts with '/': {prefix!r}")
    if "?" in prefix or "#" in prefix or "//" in prefix:
        raise RouteConfigError(f"a route prefix is a plain path: {prefix!r}")
    return prefix.rstrip("/") or "/"


class RouteTable:
    """Longest-prefix match on whole segments: ``/api/a`` matches ``/api/a/x``, not ``/api/ab``."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes: tuple[Route, ...] = tuple(routes)
        self._by_prefix: dict[str, Route] = {}
        names: set[str] = set()
        for route in self.routes:
            if route.prefix in self._by_prefix:
                raise RouteConfigError(f"two routes share the prefix {route.prefix}")
            if route.name in names:
                raise RouteConfigError(f"two routes share the name {route.name}")
            self._by_prefix[route.prefix] = route
            names.add(route.name)
        self._root = self._by_prefix.get("/")

    def match(self, path: str) -> Route | None:
        """The route for ``path``; None for no route, and always for ``/internal/...`` (the
        calls between services are never reachable from outside, whatever the table says)."""
        if path.startswith(INTERNAL_PREFIX) and path[len(INTERNAL_PREFIX) : 10] in ("", "/"):
            return None
        table = self._by_prefix
        p = path
        while p:
            route = table.get(p)
            if route is not None:
                return route
            cut = p.rfind("/")
            if cut <= 0:
                break
            p = p[:cut]
        return self._root

    def __len__(self) -> int:
        return len(self.routes)

    def describe(self) -> list[dict[str, object]]:
        return [r.describe() for r in sorted(self.routes, key=lambda r: r.prefix)]


class FallbackConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["static", "last-good"]
    status: int = Field(default=200, ge=100, le=599)
    body: JsonValue = None
    max_age: float = Field(default=300.0, gt=0)
    max_entries: int = Field(default=1000, ge=1)

    def build(self) -> Fallback:
        if self.kind == "static":
            return StaticFallback.of_json(self.body, self.status)
        return LastGoodFallback(max_age=self.max_age, max_entries=self.max_entries)


class RouteConfig(BaseModel):
    """One ``[[routes]]`` entry of the gateway config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prefix: str
    service: str
    name: str = ""
    strip_prefix: bool = False
    priority: int = Field(default=DEGRADED, ge=1, le=100)
    idempotent_methods: list[str] = Field(default_factory=lambda: sorted(IDEMPOTENT_METHODS))
    timeout: float | None = Field(default=None, gt=0)
    fallback: FallbackConfig | None = None
    auth: AuthPolicy = "optional"
    max_body: int | None = Field(default=None, ge=0)
    rate_limited: bool = True
    latency_signal: bool = True

    def build(self) -> Route:
        return Route(
            prefix=self.prefix,
            service=self.service,
            name=self.name,
            strip_prefix=self.strip_prefix,
            priority=self.priority,
            idempotent_methods=frozenset(m.upper() for m in self.idempotent_methods),
            timeout=self.timeout,
            fallback=self.fallback.build() if self.fallback else None,
            auth=self.auth,
            max_body=self.max_body,
            rate_limited=self.rate_limited,
            latency_signal=self.latency_signal,
        )


def default_routes() -> list[Route]:
    """matinee's service routes with the priorities of Netflix's request taxonomy."""
    return [
        Route("/api/playback", "playback", priority=CRITICAL, timeout=5.0),
        Route("/api/identity", "identity", priority=90),
        Route("/api/billing", "billing", priority=80),
        Route(
            "/api/homepage",
            "homepage",
            priority=70,
            fallback=LastGoodFallback(),
        ),
        Route("/api/catalog", "catalog", priority=70, fallback=LastGoodFallback()),
        Route("/api/history", "history", priority=DEGRADED),
        Route("/api/experiments", "experiments", priority=50),
        # media: packaged media (open and signed), the players' builds, the assets API, and
        # the uploads (tus), whose 8 MiB chunks need a larger body and more time
        Route("/media", "media", priority=DEGRADED),
        Route("/t", "media", name="media-signed", priority=DEGRADED),
        Route("/players", "media", name="media-players", priority=DEGRADED),
        Route("/api/assets", "media", name="media-assets", priority=DEGRADED),
        Route("/api/media", "media", name="media-api", priority=DEGRADED),
        Route(
            "/api/media/uploads",
            "media",
            name="media-uploads",
            priority=DEGRADED,
            max_body=UPLOAD_MAX_BODY,
            timeout=UPLOAD_TIMEOUT_S,
            latency_signal=False,
        ),
        Route("/api/steering", "steering", priority=DEGRADED),
        # web: the console's read API, and every page and file of the viewer app and console
        Route("/api/admin", "web", name="web-admin", priority=DEGRADED),
        Route("/", "web", priority=DEGRADED),
    ]
