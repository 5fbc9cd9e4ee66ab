"""The nginx CDN tier's configuration and its place in a fleet."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from matinee.cdn import thirdparty
from matinee.cdn.thirdparty import CdnTierConfig, CdnTierError, origin_address
from matinee.fleet.plan import plan_fleet
from matinee.settings import Settings


def test_the_config_keys_the_cache_by_object_and_checks_every_token(tmp_path: Path) -> None:
    config = CdnTierConfig(tmp_path / "cdn", 16690, ("127.0.0.1:8000", "127.0.0.1:8001"))
    text = thirdparty.render(config)
    assert "listen 127.0.0.1:16690;" in text
    assert "server 127.0.0.1:8000;" in text
    assert "server 127.0.0.1:8001;" in text
    assert "proxy_cache_key $object;" in text  # no token in the key
    assert "auth_request /_auth;" in text
    assert "proxy_cache_lock on;" in text
    assert "master_process off;" in text
    assert str(tmp_path) in text  # every path under the tier's folder


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    config = CdnTierConfig(tmp_path / "cdn", 16690, ("127.0.0.1:8000",))
    thirdparty.prepare(config)
    checked = subprocess.run(
        [*thirdparty.nginx_argv(config), "-t"], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr


def test_origin_addresses() -> None:
    assert origin_address("http://127.0.0.1:8000") == "127.0.0.1:8000"
    assert origin_address("http://origin.example") == "origin.example:80"
    assert origin_address("10.0.0.1:81") == "10.0.0.1:81"
    with pytest.raises(CdnTierError, match="http://"):
        origin_address("https://origin.example")


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_a_fleet_starts_the_tier_before_its_gateways(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, port=9000, replicas=2, cdn_port=16690)
    plan = thirdparty.with_cdn_tier(plan_fleet(settings), settings)
    services = [s.service for s in plan]
    assert services.index("cdn") == services.index("gateway") - 1
    cdn = plan[services.index("cdn")]
    assert cdn.port == 16690
    assert cdn.argv[:3] == (sys.executable, "-m", "matinee.cdn.thirdparty")
    assert "http://127.0.0.1:9000" in cdn.argv
    assert "http://127.0.0.1:9001" in cdn.argv


def test_no_tier_without_a_port_with_another_cdn_or_without_steering(tmp_path: Path) -> None:
    for settings in (
        Settings(data_dir=tmp_path, cdn_port=0),
        Settings(data_dir=tmp_path, cdn_url="https://cdn.example"),
        Settings(data_dir=tmp_path, services="media"),
    ):
        plan = plan_fleet(settings)
        assert thirdparty.with_cdn_tier(plan, settings) == plan
