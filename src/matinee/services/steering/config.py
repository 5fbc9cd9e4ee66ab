"""The steering service's configuration: client regions, edge polling, the CDN tier, the fill.

Read from the TOML file ``settings.steering_config`` names (every key optional)::

    default_region = "local"        # loopback and private clients are here
    default_countries = ["US"]      # whose plays the default region's fill follows
    poll_interval_s = 2.0           # how often every edge's /edge/report is read
    stale_after_s = 6.0             # an edge without a good report for this long is not ranked

    [[regions]]
    name = "us-east"
    cidrs = ["203.0.113.0/24", "2001:db8::/32"]
    countries = ["US", "CA"]
    cluster = "isp-a"               # optional: clients here prefer this cluster's edges

    [fill]
    start_hour = 2                  # the nightly window, UTC hours [start, end)
    end_hour = 6

``settings.cdn_url`` (else ``http://<host>:<cdn_port>`` when ``cdn_port`` is set) is the
third-party CDN tier.
"""

from __future__ import annotations

import tomllib
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from matinee.services.steering.errors import InvalidSteeringConfig
from matinee.settings import Settings

COUNTRY = r"^[A-Z]{2}$"


class RegionRule(BaseModel):
    """Clients whose address falls in ``cidrs`` are in region ``name`` (and, when given,
    the network of edge cluster ``cluster``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64)
    cidrs: list[IPv4Network | IPv6Network] = Field(min_length=1)
    countries: list[str] = Field(default_factory=list)
    cluster: str | None = None


class FillConfig(BaseModel):
    """The proactive fill (``fill.py``).

    * a window of UTC hours ``[start_hour, end_hour)`` (wrapping past midnight when end <
      start), checked every ``check_interval_s``; one run per window;
    * popularity: plays of the last ``popular_days`` (the last day weighs more), the
      ``popular_limit`` most played titles of each country, titles released within
      ``newness_days`` (or within ``lookahead_s`` ahead) get a newness prior
      (``cdn.popularity.PopularityModel``: ``half_life_s``, ``newness_half_life_s``);
    * capacity: each edge is filled up to ``capacity_fraction`` of its capacity (the rest
      is for pull-through), at most ``max_titles`` titles per region, files pinned for
      ``pin_s`` after the run.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_hour: int = Field(default=2, ge=0, le=23)
    end_hour: int = Field(default=6, ge=0, le=24)
    check_interval_s: float = Field(default=60.0, gt=0)
    popular_days: int = Field(default=7, ge=1, le=90)
    popular_limit: int = Field(default=200, ge=1, le=5000)
    newness_days: float = Field(default=14.0, ge=0)
    lookahead_s: float = Field(default=86_400.0, ge=0)
    half_life_s: float = Field(default=86_400.0, gt=0)
    newness_half_life_s: float = Field(default=3 * 86_400.0, gt=0)
    capacity_fraction: float = Field(default=0.8, gt=0, le=1)
    max_titles: int = Field(default=500, ge=1)
    pin_s: float = Field(default=36 * 3600.0, ge=0)
    bins: int = Field(default=20, ge=1, le=200)
    keys_per_request: int = Field(default=500, ge=1)

    def in_window(self, hour: int) -> bool:
        if self.start_hour == self.end_hour:
            return False
        if self.start_hour < self.end_hour:
            return self.start_hour <= hour < self.end_hour
        return hour >= self.start_hour or hour < self.end_hour


class RankWeights(BaseModel):
    """The edge score (``ranking.py``): ``hold`` x share of the title held (relative to the
    region's best holder) + ``idle`` x (1 - load); an edge at or past ``overloaded`` load is
    put after every other edge of its region. Load is the larger of in-flight requests over
    ``max_inflight`` and bytes sent per second over ``max_bytes_per_s``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hold: float = Field(default=2.0, ge=0)
    idle: float = Field(default=1.0, ge=0)
    overloaded: float = Field(default=0.9, gt=0, le=1)
    max_inflight: int = Field(default=256, ge=1)
    max_bytes_per_s: float = Field(default=1.25e9, gt=0)  # 10 Gbit/s


class SteeringConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default_region: str = Field(default="local", min_length=1)
    default_countries: list[str] = Field(default_factory=lambda: ["US"])
    unmatched_region: str | None = Field(
        default=None, description="region of public addresses no rule matches (None: none)"
    )
    regions: list[RegionRule] = Field(default_factory=list)
    poll_interval_s: float = Field(default=2.0, gt=0)
    report_timeout_s: float = Field(default=1.0, gt=0)
    stale_after_s: float = Field(default=6.0, gt=0)
    cdn_url: str | None = None
    rank: RankWeights = Field(default_factory=RankWeights)
    fill: FillConfig = Field(default_factory=FillConfig)

    def countries_of(self, region: str) -> list[str]:
        """The countries whose plays predict ``region``'s demand."""
        for rule in self.regions:
            if rule.name == region and rule.countries:
                return list(rule.countries)
        return list(self.default_countries) if region == self.default_region else []


def load_config(settings: Settings) -> SteeringConfig:
    """The configuration from ``settings.steering_config`` (defaults without one), with the
    CDN tier's URL from settings."""
    data: dict[str, object] = {}
    if settings.steering_config is not None:
        data = _read(settings.steering_config)
    if "cdn_url" not in data:
        if settings.cdn_url:
            data["cdn_url"] = settings.cdn_url
        elif settings.cdn_port:
            data["cdn_url"] = f"http://{settings.host}:{settings.cdn_port}"
    try:
        return SteeringConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidSteeringConfig(f"the steering configuration is not valid: {problems}") from exc


def _read(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise InvalidSteeringConfig(
            f"cannot read the steering configuration {path}: {exc}"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidSteeringConfig(f"{path} is not valid TOML: {exc}") from exc
