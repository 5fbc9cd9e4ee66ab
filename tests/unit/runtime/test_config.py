"""Settings and the runtime TOML become one typed RuntimeConfig; bad files are refused clearly."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from matinee.runtime.config import ConfigError, identity_key, load_runtime_config
from matinee.runtime.context import default_dependencies
from matinee.settings import Settings


def _settings(tmp_path: Path, toml: str | None = None, **extra: object) -> Settings:
    fields: dict[str, object] = {"data_dir": tmp_path, **extra}
    if toml is not None:
        path = tmp_path / "runtime.toml"
        path.write_text(toml)
        fields["runtime_config"] = path
    return Settings.model_validate(fields)


def test_defaults_without_a_file(tmp_path: Path) -> None:
    config = load_runtime_config(_settings(tmp_path, zone="zone-b", deregister_grace=2.0))
    assert config.zone == "zone-b"
    assert config.deregister_grace == 2.0
    assert config.discovery.lease_duration == 90  # Eureka's default
    assert config.default_dependency.breaker.request_volume_threshold == 20  # Hystrix's
    assert config.dependencies == default_dependencies()
    assert config.dependencies["identity"].timeout_s == 3.0  # argon2id sign-ins queue
    assert len(config.identity_key or b"") == 64


def test_tables_are_read_into_typed_config(tmp_path: Path) -> None:
    toml = """
[discovery]
renewal_interval = 1
lease_duration = 3

[default_dependency]
timeout_s = 2.5
max_concurrent = 64

[dependencies.media]
retries = 2
breaker = { request_volume_threshold = 5, error_threshold_pct = 25, sleep_window_s = 1 }

[limit]
enabled = false

[gateway]
max_body_bytes = 1024
rate_limit = { enabled = false }

[[gateway.routes]]
prefix = "/api/critical"
service = "media"
priority = 100
"""
    config = load_runtime_config(_settings(tmp_path, toml))
    assert (config.discovery.renewal_interval, config.discovery.lease_duration) == (1, 3)
    assert config.default_dependency.timeout_s == 2.5
    assert config.default_dependency.max_concurrent == 64
    media = config.dependencies["media"]
    assert media.retries == 2
    assert media.breaker.request_volume_threshold == 5
    assert media.breaker.error_threshold_pct == 25
    assert config.limit.enabled is False
    assert config.gateway.max_body_bytes == 1024
    assert config.gateway.rate_limit.enabled is False
    assert [r.prefix for r in config.gateway.build_routes()] == ["/api/critical"]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[nonsense]\nx = 1\n", "unknown table(s) nonsense"),
        ("[discovery\n", "not valid TOML"),
        ("[discovery]\nlease_duration = 'long'\n", "lease_duration"),
        ("[dependencies.media]\ntimeout_s = 'slow'\n", "dependencies.media"),
        ("[gateway]\nno_such_knob = 1\n", "no_such_knob"),
    ],
)
def test_bad_files_are_refused_naming_the_problem(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_runtime_config(_settings(tmp_path, toml))


def test_missing_file_is_named(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {"data_dir": tmp_path, "runtime_config": tmp_path / "absent.toml"}
    )
    with pytest.raises(ConfigError, match=r"absent\.toml does not exist"):
        load_runtime_config(settings)


def test_identity_key_is_shared_through_the_data_dir(tmp_path: Path) -> None:
    keys: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: keys.append(identity_key(_settings(tmp_path))))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 1  # every racing process ends with the same key
    assert (tmp_path / "identity.key").stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob("*.tmp"))
    assert identity_key(_settings(tmp_path, identity_key="explicit")) == b"explicit"


def test_the_documented_example_is_valid(tmp_path: Path) -> None:
    doc = (Path(__file__).parents[3] / "docs" / "configuration.md").read_text()
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    config = load_runtime_config(_settings(tmp_path, example))
    assert config.dependencies["media"].breaker.slow_call_duration_s == 0.5
    assert [r.service for r in config.gateway.build_routes()] == ["playback"]
