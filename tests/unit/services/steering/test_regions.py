"""Client address -> region: longest prefix, private and loopback to the default region."""

from __future__ import annotations

from pathlib import Path

import pytest

from matinee.services.steering.config import SteeringConfig, load_config
from matinee.services.steering.errors import InvalidSteeringConfig
from matinee.services.steering.regions import Place, RegionMap
from matinee.settings import Settings

CONFIG = SteeringConfig.model_validate(
    {
        "default_region": "home",
        "regions": [
            {"name": "us-east", "cidrs": ["203.0.113.0/24", "2001:db8::/32"], "countries": ["US"]},
            {"name": "us-east", "cidrs": ["203.0.113.128/25"], "cluster": "isp-b"},
            {"name": "eu-west", "cidrs": ["198.51.100.0/24"], "countries": ["FR", "DE"]},
        ],
    }
)


@pytest.mark.parametrize(
    ("ip", "place"),
    [
        ("203.0.113.7", Place("us-east")),
        ("203.0.113.200", Place("us-east", "isp-b")),  # the longer prefix wins
        ("2001:db8::1", Place("us-east")),
        ("::ffff:198.51.100.9", Place("eu-west")),  # IPv4 mapped into IPv6
        ("198.51.100.9", Place("eu-west")),
        ("127.0.0.1", Place("home")),
        ("::1", Place("home")),
        ("10.1.2.3", Place("home")),
        ("192.168.0.5", Place("home")),
        (None, Place("home")),
        ("not an address", Place("home")),
        ("8.8.8.8", Place(None)),  # public, no rule: no edge is near it
    ],
)
def test_addresses_map_to_regions(ip: str | None, place: Place) -> None:
    assert RegionMap(CONFIG).place_of(ip) == place


def test_an_unmatched_public_address_can_have_a_region() -> None:
    config = CONFIG.model_copy(update={"unmatched_region": "us-east"})
    assert RegionMap(config).region_of("8.8.8.8") == "us-east"


def test_countries_of_a_region() -> None:
    assert CONFIG.countries_of("eu-west") == ["FR", "DE"]
    assert CONFIG.countries_of("us-east") == ["US"]
    assert CONFIG.countries_of("home") == ["US"]  # the default region's default countries
    assert CONFIG.countries_of("nowhere") == []


def test_config_from_a_toml_file_and_settings(tmp_path: Path) -> None:
    path = tmp_path / "steering.toml"
    path.write_text(
        'default_region = "lan"\nstale_after_s = 3\n'
        '[[regions]]\nname = "eu"\ncidrs = ["198.51.100.0/24"]\ncountries = ["FR"]\n'
        "[fill]\nstart_hour = 22\nend_hour = 4\n"
    )
    config = load_config(Settings(data_dir=tmp_path, steering_config=path, cdn_port=16690))
    assert (config.default_region, config.stale_after_s) == ("lan", 3)
    assert config.cdn_url == "http://127.0.0.1:16690"
    assert [config.fill.in_window(h) for h in (21, 22, 23, 0, 3, 4)] == [
        False,
        True,
        True,
        True,
        True,
        False,
    ]
    external = load_config(Settings(data_dir=tmp_path, cdn_url="https://cdn.example"))
    assert external.cdn_url == "https://cdn.example"
    assert load_config(Settings(data_dir=tmp_path, cdn_port=0)).cdn_url is None


def test_a_bad_config_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "steering.toml"
    path.write_text('[[regions]]\nname = "eu"\ncidrs = ["not-a-cidr"]\n')
    with pytest.raises(InvalidSteeringConfig, match=r"regions\.0\.cidrs"):
        load_config(Settings(data_dir=tmp_path, steering_config=path))
    path.write_text("default_region = ")
    with pytest.raises(InvalidSteeringConfig, match="not valid TOML"):
        load_config(Settings(data_dir=tmp_path, steering_config=path))
