"""Playback through the real gateway with the real identity, billing, catalog and media
services in one monolith, on a title matinee's pipeline really packaged (1080p master).

A member signs up, subscribes to Basic (1 stream, 720p), and plays: the start answers a lease,
signed manifests and the origin; the manifests fetched through the signed URLs are cut to
720p; a 1080p segment is refused; a second device hits the stream limit until the first one
stops; every refusal carries its reason code; and with billing gone a start is refused (503).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import httpx
import pytest

from matinee.clock import SystemClock
from matinee.db import upgrade
from matinee.db.aio import Database
from matinee.gateway.config import GatewayConfig, RateLimitConfig
from matinee.gateway.shedding import SheddingConfig
from matinee.jobs.models import JobState
from matinee.media.samples import SampleSpec, make_sample
from matinee.platform import Platform
from matinee.resilience.dependency import DependencyConfig
from matinee.runtime.context import RuntimeConfig
from matinee.runtime.monolith import Monolith
from matinee.services import billing, catalog, gateway, media, playback, registry
from matinee.services.identity import create_admin, make_spec
from matinee.services.identity.config import HashingConfig, IdentityConfig
from matinee.settings import Settings
from matinee.testing.pipeline import ingest

pytestmark = pytest.mark.slow  # encodes a 1080p master

PASSWORD = "correct horse battery"
BASE = "http://matinee.test"
CHEAP = IdentityConfig(hashing=HashingConfig(memory_kib=64, time_cost=1, parallelism=1))
CARD = {"card_number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
SERVICES = ("identity", "billing", "catalog", "media", "playback")


@dataclass
class World:
    monolith: Monolith
    client: httpx.AsyncClient
    asset_id: str
    admin: str  # session token


def bearer(token: str, **more: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", **more}


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def signin(c: httpx.AsyncClient, email: str) -> str:
    body = await ok(
        await c.post("/api/identity/signin", json={"email": email, "password": PASSWORD})
    )
    c.cookies.clear()
    return str(body["token"])


async def member(c: httpx.AsyncClient, *, country: str = "US", plan: str | None = "basic") -> str:
    """A new member's session token (its first profile selected), subscribed to ``plan``."""
    email = f"m-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "password": PASSWORD, "country": country}
    token = str((await ok(await c.post("/api/identity/signup", json=body), 201))["token"])
    c.cookies.clear()
    profiles = await ok(await c.get("/api/identity/profiles", headers=bearer(token)))
    items = profiles["items"] if isinstance(profiles, dict) else profiles
    if not items:
        created = await c.post(
            "/api/identity/profiles", json={"name": "Main"}, headers=bearer(token)
        )
        items = [await ok(created, 201)]
    token = await select(c, token, items[0]["id"])
    if plan is not None:
        answer = await c.post(
            "/api/billing/subscription",
            json={"plan": plan, **CARD},
            headers=bearer(token, **{"idempotency-key": uuid.uuid4().hex}),
        )
        await ok(answer, 201)
    return token


async def select(c: httpx.AsyncClient, token: str, profile_id: str) -> str:
    answer = await c.post(f"/api/identity/profiles/{profile_id}/select", headers=bearer(token))
    c.cookies.clear()
    return str((await ok(answer))["token"])


async def title(w: World, name: str, maturity: int, countries: tuple[str, ...] = ("US",)) -> str:
    """A published movie on the packaged asset, available in ``countries``."""
    c, admin = w.client, bearer(w.admin)
    body = {"kind": "movie", "name": name, "maturity": maturity, "release_year": 2024}
    created = await ok(await c.post("/api/catalog/titles", json=body, headers=admin), 201)
    title_id = str(created["id"])
    link = {"asset_id": w.asset_id}
    await ok(await c.post(f"/api/catalog/titles/{title_id}/asset", json=link, headers=admin))
    windows = [{"country": cc, "starts_at": "2000-01-01T00:00:00Z"} for cc in countries]
    await ok(
        await c.put(
            f"/api/catalog/titles/{title_id}/availability",
            json={"windows": windows},
            headers=admin,
        )
    )
    await ok(await c.post(f"/api/catalog/titles/{title_id}/publish", headers=admin))
    return title_id


async def start(w: World, token: str, title_id: str, device: str | None = None) -> httpx.Response:
    body: dict[str, str] = {"title_id": title_id}
    if device is not None:
        body["device_id"] = device
    return await w.client.post("/api/playback/start", json=body, headers=bearer(token))


def refusal(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code, body
    return str(body["message"])


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Platform, str]:
    """One platform for the module with one title really ingested (fast x264, 2 s chunks and
    segments): 2 s of 1920x1080, so the ladder reaches 1080p."""
    root = tmp_path_factory.mktemp("playback")
    platform = Platform(
        Settings(
            data_dir=root / "data",
            x264_preset="ultrafast",
            workers=2,
            chunk_seconds=2.0,
            segment_seconds=2.0,
            vmaf_subsample=4,
        )
    )
    spec = SampleSpec(width=1920, height=1080, fps=Fraction(25), seconds=2.0)
    job_id, state = ingest(platform, make_sample(root / "master.mp4", spec), "Feature")
    assert state is JobState.SUCCEEDED, platform.jobs.get(job_id).error
    return platform, platform.assets.all()[0].id


def run(packaged: tuple[Platform, str], body: Callable[[World], Awaitable[None]]) -> None:
    platform, asset_id = packaged

    async def main() -> None:
        settings = platform.settings
        await asyncio.to_thread(upgrade, settings.resolved_database_url)
        admin_email = "ops@example.com"
        db = Database(settings.resolved_database_url)
        await create_admin(db, SystemClock(), admin_email, PASSWORD, config=CHEAP, exist_ok=True)
        await db.close()
        slack = DependencyConfig(timeout_s=15.0)  # two shared cores, busy with other tests
        # Nothing shed or rate-limited: the shared test machine is slow, not overloaded.
        front = GatewayConfig(
            shedding=SheddingConfig(enabled=False), rate_limit=RateLimitConfig(enabled=False)
        )
        config = RuntimeConfig(gateway=front, dependencies=dict.fromkeys(SERVICES, slack))
        specs = [
            registry.SPEC,
            make_spec(CHEAP),
            billing.SPEC,
            catalog.SPEC,
            media.SPEC,
            playback.SPEC,
            gateway.SPEC,
        ]
        m = Monolith(settings, config, services=specs, platform=platform)
        await m.start()
        try:
            transport = httpx.ASGITransport(app=m)
            async with httpx.AsyncClient(transport=transport, base_url=BASE, timeout=60) as c:
                await body(World(m, c, asset_id, await signin(c, admin_email)))
        finally:
            await m.leave()
            await m.stop()

    asyncio.run(main())


def test_a_basic_member_plays_a_title_cut_to_720p(packaged: tuple[Platform, str]) -> None:
    async def body(w: World) -> None:
        film = await title(w, "Feature", 13)
        token = await member(w.client)
        play = await ok(await start(w, token, film, "tv"))
        assert play["title_id"] == film
        assert play["asset_id"] == w.asset_id
        assert play["max_height"] == 720
        assert play["heartbeat_interval_s"] == 30.0
        assert play["delivery"] == [{"name": "origin", "base_url": BASE}]
        heights = [r["height"] for r in play["renditions"]]
        assert heights
        assert max(heights) == 720
        prefix = f"/media/assets/{w.asset_id}/"
        assert play["manifests"]["hls"].startswith("/t/v1.")
        assert play["manifests"]["hls"].endswith(prefix + "master.m3u8")
        assert play["manifests"]["dash"].endswith(prefix + "manifest.mpd")

        # The player fetches from the first host, through the signed URLs.
        host = play["delivery"][0]["base_url"]
        hls = await w.client.get(host + play["manifests"]["hls"])
        assert hls.status_code == 200
        assert "RESOLUTION=1280x720" in hls.text
        assert "1080" not in hls.text
        dash = await w.client.get(host + play["manifests"]["dash"])
        assert dash.status_code == 200
        assert 'height="720"' in dash.text
        assert 'height="1080"' not in dash.text
        signed = play["manifests"]["hls"].rsplit("/", 1)[0]
        uri = next(ln for ln in hls.text.splitlines() if ln.startswith("video/720p"))
        playlist = await w.client.get(f"{host}{signed}/{uri}")
        assert playlist.status_code == 200
        segment = next(ln for ln in playlist.text.splitlines() if ln.endswith(".m4s"))
        folder = uri.rsplit("/", 1)[0]
        got = await w.client.get(f"{host}{signed}/{folder}/{segment}")
        assert got.status_code == 200
        assert len(got.content) > 1000
        tall = await w.client.get(f"{host}{signed}/video/1080p-6000k/{segment}")
        refusal(tall, 403, "rendition_not_allowed")
        forged = play["manifests"]["hls"].replace("/t/v1.", "/t/v1.x", 1)
        refusal(await w.client.get(host + forged), 403, "token_invalid")

        # Basic allows one stream: a second device waits until the first stops.
        message = refusal(await start(w, token, film, "phone"), 409, "stream_limit_reached")
        assert "Basic plan allows 1 stream" in message
        again = await ok(await start(w, token, film, "tv"))  # the TV reloading keeps its lease
        assert again["lease_id"] == play["lease_id"]
        lease = {"lease_id": play["lease_id"]}
        beat = await ok(
            await w.client.post("/api/playback/heartbeat", json=lease, headers=bearer(token))
        )
        assert beat["lease_id"] == play["lease_id"]
        stop = await ok(
            await w.client.post("/api/playback/stop", json=lease, headers=bearer(token))
        )
        assert stop == {"lease_id": play["lease_id"], "released": True}
        await ok(await start(w, token, film, "phone"))

    run(packaged, body)


def test_every_refusal_has_its_reason_code(packaged: tuple[Platform, str]) -> None:
    async def body(w: World) -> None:
        c = w.client
        film = await title(w, "Grown-ups only", 16)
        anon = await c.post("/api/playback/start", json={"title_id": film})
        refusal(anon, 401, "unauthorized")
        unsubscribed = await member(c, plan=None)
        refusal(await start(w, unsubscribed, film), 403, "subscription_inactive")
        token = await member(c, plan="standard")
        refusal(await start(w, token, "no-such-title"), 404, "title_not_found")
        abroad = await member(c, country="FR")
        message = refusal(await start(w, abroad, film), 403, "region_unavailable")
        assert "(FR)" in message
        kids = await ok(
            await c.post(
                "/api/identity/profiles", json={"name": "Kids", "kids": True}, headers=bearer(token)
            ),
            201,
        )
        kid_token = await select(c, token, kids["id"])
        refusal(await start(w, kid_token, film), 403, "maturity_restricted")
        hidden = await title(w, "Withdrawn", 0)
        await ok(await c.post(f"/api/catalog/titles/{hidden}/unpublish", headers=bearer(w.admin)))
        refusal(await start(w, token, hidden), 403, "title_unavailable")
        bad = await c.post("/api/playback/start", json={"title_id": ""}, headers=bearer(token))
        assert bad.status_code == 422
        assert "title_id" in bad.json()["message"]
        await ok(await start(w, token, film))

        # Billing goes away: nothing can be authorized, and the player is told why.
        await w.monolith.instance("billing").runtime.stop()
        await w.monolith.instance("playback").runtime.ctx.discovery.refresh()
        message = refusal(await start(w, token, film), 503, "dependency_unavailable")
        assert "billing" in message

    run(packaged, body)
