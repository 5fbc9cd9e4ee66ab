"""The fleet plan: registry peers, N instances per service over the zones, gateways in front."""

from __future__ import annotations

from pathlib import Path

import pytest

from matinee.fleet.plan import plan_fleet, registry_urls
from matinee.settings import Settings


def test_plan_places_every_instance(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {
            "data_dir": tmp_path,
            "port": 9000,
            "registry_port": 9761,
            "base_port": 9100,
            "replicas": 3,
            "zones": "a, b",
        }
    )
    plan = plan_fleet(settings, ["media"])
    placed = [(s.name, s.port, s.zone) for s in plan]
    assert placed == [
        ("registry-0", 9761, "a"),
        ("registry-1", 9762, "b"),
        ("media-0", 9100, "a"),
        ("media-1", 9101, "b"),
        ("media-2", 9102, "a"),
        ("edge-0", 8200, "a"),  # the CDN's edges fill from media, before the gateways start
        ("edge-1", 8201, "b"),
        ("gateway-0", 9000, "a"),
        ("gateway-1", 9001, "b"),
        ("gateway-2", 9002, "a"),
    ]
    urls = registry_urls(settings)
    assert urls == ["http://127.0.0.1:9761/eureka", "http://127.0.0.1:9762/eureka"]
    argv = plan[2].argv
    assert argv[1:3] == ("-m", "matinee.runtime.instance")
    assert argv[argv.index("--service") + 1] == "media"
    assert argv[argv.index("--zone") + 1] == "a"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--registry-url"] == urls


def test_a_service_brings_what_it_depends_on(tmp_path: Path) -> None:
    plan = plan_fleet(Settings.model_validate({"data_dir": tmp_path}), ["playback"])
    names = [s.name.rsplit("-", 1)[0] for s in plan]
    assert set(names) == {
        "registry",
        "media",
        "identity",
        "billing",
        "catalog",
        "playback",
        "edge",
        "gateway",
    }
    assert names.index("catalog") > names.index("media")
    assert names.index("playback") > names.index("catalog")


def test_unknown_service_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no such service: nope"):
        plan_fleet(Settings.model_validate({"data_dir": tmp_path}), ["nope"])
