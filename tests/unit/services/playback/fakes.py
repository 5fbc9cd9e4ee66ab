"""Small in-memory stand-ins for identity, billing and catalog, speaking their internal
contracts (services-spec), so the playback API can be tested behind the real gateway and the
real media service without the other services' databases.

``Household.answers`` lets a test make one of them fail: a status to answer instead, or a body
that is not what the contract says. :func:`household` is a household with a few members and
titles, :func:`publish_asset` puts the captured 1080p package in the object store, and
:func:`services` / :func:`runtime_config` are the monolith the API tests run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from matinee.assets.models import Asset, Track
from matinee.gateway.config import GatewayConfig, RateLimitConfig
from matinee.gateway.shedding import SheddingConfig
from matinee.platform import Platform
from matinee.resilience.dependency import DependencyConfig
from matinee.runtime.app import ServiceSpec
from matinee.runtime.context import RuntimeConfig, ServiceContext
from matinee.services import gateway, media, playback, registry
from matinee.services.playback.service import PlaybackConfig

from .conftest import LADDER

DATA = Path(__file__).parents[2] / "delivery" / "data"
PLANS = {
    "basic": {"code": "basic", "name": "Basic", "max_streams": 1, "max_height": 720},
    "standard": {"code": "standard", "name": "Standard", "max_streams": 2, "max_height": 1080},
}


@dataclass
class Household:
    """What the fake services know. Sessions: token -> (account, profile, country)."""

    sessions: dict[str, tuple[str, str | None, str]] = field(default_factory=dict)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    plans: dict[str, str] = field(default_factory=dict)  # account -> plan code
    titles: dict[str, dict[str, Any]] = field(default_factory=dict)
    # service -> (status, body) to answer instead of the truth
    answers: dict[str, tuple[int, Any]] = field(default_factory=dict)
    expires_at: float = 4_000_000_000.0

    def override(self, service: str) -> Response | None:
        if service not in self.answers:
            return None
        status, body = self.answers[service]
        return JSONResponse(body, status_code=status)


class _Validate(BaseModel):
    token: str


def identity_spec(h: Household) -> ServiceSpec:
    def build(ctx: ServiceContext) -> APIRouter:
        api = APIRouter(prefix="/internal/identity")

        @api.post("/sessions/validate")
        def validate(body: _Validate) -> Any:
            if body.token not in h.sessions:
                return JSONResponse({"error": "unknown_session"}, status_code=404)
            account, profile, country = h.sessions[body.token]
            return {
                "account_id": account,
                "profile_id": profile,
                "roles": ["member"],
                "session_id": f"s-{body.token}",
                "expires_at": h.expires_at,
                "country": country,
            }

        @api.get("/profiles/{profile_id}")
        def profile(profile_id: str) -> Any:
            if profile_id not in h.profiles:
                raise HTTPException(404, "no such profile")
            return h.override("identity") or h.profiles[profile_id]

        @api.get("/accounts/{account_id}")
        def account(account_id: str) -> Any:
            countries = {a: c for a, _, c in h.sessions.values()}
            return {"id": account_id, "country": countries.get(account_id, "US")}

        return api

    return ServiceSpec("identity", build=build)


def billing_spec(h: Household) -> ServiceSpec:
    def build(ctx: ServiceContext) -> APIRouter:
        api = APIRouter(prefix="/internal/billing")

        @api.get("/entitlements/{account_id}")
        def entitlements(account_id: str) -> Any:
            override = h.override("billing")
            if override is not None:
                return override
            code = h.plans.get(account_id)
            return {
                "account_id": account_id,
                "status": "active" if code else "none",
                "entitled": code is not None,
                "plan": None
                if code is None
                else {**PLANS[code], "price_cents": 999, "currency": "USD"},
            }

        return api

    return ServiceSpec("billing", build=build)


def catalog_spec(h: Household) -> ServiceSpec:
    def build(ctx: ServiceContext) -> APIRouter:
        api = APIRouter(prefix="/internal/catalog")

        @api.get("/titles/{title_id}")
        def title(title_id: str) -> Any:
            override = h.override("catalog")
            if override is not None:
                return override
            if title_id not in h.titles:
                raise HTTPException(404, "no such title")
            return h.titles[title_id]

        @api.get("/titles/{title_id}/available")
        def available(title_id: str, country: str, at: float) -> Any:
            if title_id not in h.titles:
                raise HTTPException(404, "no such title")
            t = h.titles[title_id]
            if not t["published"]:
                return {"available": False, "reason": "unpublished"}
            countries = {w["country"] for w in t["availability"]}
            if country not in countries:
                return {"available": False, "reason": "region"}
            return {"available": True, "reason": None}

        return api

    return ServiceSpec("catalog", build=build)


def title(
    title_id: str, asset_id: str, maturity: int = 13, countries: tuple[str, ...] = ("US",)
) -> dict[str, Any]:
    return {
        "id": title_id,
        "kind": "movie",
        "name": title_id.title(),
        "published": True,
        "maturity": maturity,
        "runtime_s": 2,
        "asset_id": asset_id,
        "series_id": None,
        "season": None,
        "episode": None,
        "next_episode_id": None,
        "availability": [
            {"country": c, "starts_at": "2000-01-01T00:00:00Z", "ends_at": None} for c in countries
        ],
    }


def publish_asset(platform: Platform) -> None:
    """The captured 1080p package (manifests, two stand-in segments) and its asset row."""
    objects = platform.objects
    objects.put_bytes("assets/a1/master.m3u8", (DATA / "master.m3u8").read_bytes())
    objects.put_bytes("assets/a1/manifest.mpd", (DATA / "manifest.mpd").read_bytes())
    objects.put_bytes("assets/a1/video/720p-3000k/00001.m4s", b"7" * 2000)
    objects.put_bytes("assets/a1/video/1080p-6000k/00001.m4s", b"1" * 3000)
    tracks = [
        Track(kind="video", name=name, width=w, height=h, average_bps=h * 4000, codecs="avc1")
        for name, w, h in LADDER
    ]
    tracks.append(Track(kind="audio", name="eng-0", language="en", codecs="mp4a.40.2"))
    platform.assets.add(
        Asset(
            id="a1",
            job_id="a1",
            title="Feature",
            prefix="assets/a1",
            hls_key="assets/a1/master.m3u8",
            dash_key="assets/a1/manifest.mpd",
            duration=2.0,
            width=1920,
            height=1080,
            probe={},
            created_at=datetime.now(UTC),
            tracks=tracks,
        )
    )


def household() -> Household:
    h = Household()
    h.sessions = {
        "adult": ("acct", "p-adult", "US"),
        "kid": ("acct", "p-kid", "US"),
        "chooser": ("acct", None, "US"),
        "abroad": ("acct-fr", "p-fr", "FR"),
        "lapsed": ("acct-lapsed", "p-lapsed", "US"),
    }
    h.profiles = {
        "p-adult": {"id": "p-adult", "account_id": "acct", "maturity_level": 18, "kids": False},
        "p-kid": {"id": "p-kid", "account_id": "acct", "maturity_level": 7, "kids": True},
        "p-fr": {"id": "p-fr", "account_id": "acct-fr", "maturity_level": 18, "kids": False},
        "p-lapsed": {"id": "p-lapsed", "account_id": "acct-lapsed", "maturity_level": 18},
    }
    h.plans = {"acct": "basic", "acct-fr": "standard"}
    h.titles = {"film": title("film", "a1"), "void": title("void", "missing")}
    return h


def services(h: Household) -> list[ServiceSpec]:
    """Registry, the three stand-ins, the real media and playback services, the gateway."""
    return [
        registry.SPEC,
        identity_spec(h),
        billing_spec(h),
        catalog_spec(h),
        media.SPEC,
        playback.make_spec(PlaybackConfig(sweep_interval_s=0)),
        gateway.SPEC,
    ]


def runtime_config() -> RuntimeConfig:
    """Generous call timeouts, nothing shed or rate-limited: a busy shared test machine is
    slow, not overloaded."""
    slack = DependencyConfig(timeout_s=10.0)
    names = ("identity", "billing", "catalog", "media", "playback")
    front = GatewayConfig(
        shedding=SheddingConfig(enabled=False), rate_limit=RateLimitConfig(enabled=False)
    )
    return RuntimeConfig(gateway=front, dependencies=dict.fromkeys(names, slack))
