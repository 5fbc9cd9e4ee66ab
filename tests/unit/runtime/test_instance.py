"""The instance command line: what a fleet supervisor passes becomes the runtime config."""

from __future__ import annotations

import pytest

from matinee.discovery.config import DiscoveryConfig
from matinee.runtime.context import RuntimeConfig
from matinee.runtime.instance import parse_args


def test_command_line_to_runtime_config() -> None:
    options = parse_args(
        [
            "--service",
            "media",
            "--port",
            "8101",
            "--instance-id",
            "media-0.2",
            "--zone",
            "zone-b",
            "--registry-url",
            "http://127.0.0.1:8761/eureka",
            "--registry-url",
            "http://127.0.0.1:8762/eureka",
            "--discovery-json",
            '{"renewal_interval": 1, "lease_duration": 3}',
            "--deregister-grace",
            "2.5",
        ]
    )
    assert (options.service, options.port, options.instance_id) == ("media", 8101, "media-0.2")
    base = RuntimeConfig(discovery=DiscoveryConfig(eviction_interval=7.0), identity_key=b"k")
    config = options.runtime_config(base)
    assert config.topology == "fleet"
    assert config.zone == "zone-b"
    assert config.deregister_grace == 2.5
    assert config.discovery.registry_urls == (
        "http://127.0.0.1:8761/eureka",
        "http://127.0.0.1:8762/eureka",
    )
    assert (config.discovery.renewal_interval, config.discovery.lease_duration) == (1, 3)
    # what the command line does not mention comes from the settings-built base
    assert config.discovery.eviction_interval == 7.0
    assert config.identity_key == b"k"


def test_discovery_json_must_be_an_object(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(
            ["--service", "x", "--port", "1", "--instance-id", "x", "--discovery-json", "[]"]
        )
    assert "must be a JSON object" in capsys.readouterr().err
