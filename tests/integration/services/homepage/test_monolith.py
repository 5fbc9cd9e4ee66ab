"""The homepage in a monolith (registry, media, identity, billing, catalog, history, homepage,
gateway) on the seeded demo catalog: rows through the gateway, the second read a cache hit,
the catalog failing (injected faults) answered from the last good copy of the country's rows,
and a cached session signed out and refused at once by identity.

The sample assets are asset rows as the pipeline records them (``matinee.testing.assets``),
so this test needs no encoding.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from matinee.gateway.config import GatewayConfig, RateLimitConfig
from matinee.gateway.shedding import SheddingConfig
from matinee.platform import Platform
from matinee.runtime.context import RuntimeConfig
from matinee.runtime.monolith import Monolith
from matinee.seed import MEMBER_EMAIL, MEMBER_PASSWORD, SERIES_NAME, seed
from matinee.services import billing, catalog, gateway, history, identity, media, registry
from matinee.services.homepage import HomepageConfig, make_spec
from matinee.settings import Settings
from matinee.testing.assets import sample_asset
from matinee.web.demo import SAMPLES

FRONT = "http://matinee.test"
# The loop would only add noise here; requests compute a missing country's rows themselves.
HOMEPAGE = make_spec(HomepageConfig(precompute_period_s=3600.0))


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def direct(m: Monolith, service: str) -> httpx.AsyncClient:
    app = m.instance(service).app
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{service}")


async def metric(m: Monolith, service: str, name: str, **labels: str) -> float:
    """The sum of the ``name`` samples on ``service``'s /metrics whose labels include these."""
    async with direct(m, service) as client:
        text = (await client.get("/metrics")).text
    total = 0.0
    for line in text.splitlines():
        found = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if found and all(f'{k}="{v}"' in found.group(1) for k, v in labels.items()):
            total += float(found.group(2))
    return total


def names(page: dict[str, Any], row_id: str) -> list[str]:
    (row,) = [r for r in page["rows"] if r["id"] == row_id]
    return [item["name"] for item in row["items"]]


def shown(page: dict[str, Any]) -> set[str]:
    return {item["name"] for row in page["rows"] for item in row["items"]}


class Member:
    """The demo member through the gateway: a session token, one profile at a time."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.token = ""
        self.profiles: dict[str, str] = {}

    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}

    async def signin(self) -> str:
        body = {"email": MEMBER_EMAIL, "password": MEMBER_PASSWORD}
        self.token = (await ok(await self.client.post("/api/identity/signin", json=body)))["token"]
        listed = await ok(await self.client.get("/api/identity/profiles", headers=self.auth()))
        self.profiles = {p["name"]: p["id"] for p in listed["items"]}
        return self.token

    async def watch_as(self, profile: str) -> None:
        path = f"/api/identity/profiles/{self.profiles[profile]}/select"
        self.token = (await ok(await self.client.post(path, headers=self.auth())))["token"]

    async def played(self, title_id: str, position_s: float) -> None:
        event = {
            "event_id": str(uuid.uuid4()),
            "kind": "start",  # a play started: what popularity counts
            "title_id": title_id,
            "position_s": position_s,
            "duration_s": 10.0,
            "client_ts": time.time(),
        }
        response = await self.client.post(
            "/api/history/events", json={"events": [event]}, headers=self.auth()
        )
        await ok(response)

    async def homepage(self) -> httpx.Response:
        return await self.client.get("/api/homepage", headers=self.auth())


async def rows_through_the_gateway(m: Monolith, member: Member, ids: dict[str, str]) -> None:
    await member.watch_as("Alex")  # maturity 18, in the US
    await member.played(ids["Game of Life"], 3.0)
    first = await member.homepage()
    page = await ok(first)
    assert (page["country"], page["maturity_level"]) == ("US", 18)
    assert "catalog" not in page["degraded"]
    assert names(page, "continue-watching") == ["Game of Life"]
    (resume,) = next(r for r in page["rows"] if r["id"] == "continue-watching")["items"]
    assert resume["progress"] == 0.3
    assert resume["artwork"]["poster"].startswith("/media/assets/")
    # Like Game of Life: Midnight Zoom shares Ada Conway, Mandelbrot shares science.
    because = names(page, f"because:{ids['Game of Life']}")
    assert set(because) == {"Midnight Zoom", "Mandelbrot"}
    assert set(names(page, "new")) == {"Mandelbrot", "Game of Life", "Midnight Zoom", SERIES_NAME}
    assert set(names(page, "popular")) == set(names(page, "new"))
    if "popularity" not in page["degraded"]:  # history ranks plays started
        assert names(page, "popular")[0] == "Game of Life"
    assert set(names(page, "genre:science")) == {"Game of Life", "Mandelbrot"}
    assert "Le Jeu" not in shown(page)  # France only

    hits = await metric(m, "homepage", "homepage_page_total", result="hit")
    again = await member.homepage()
    assert again.content == first.content
    assert await metric(m, "homepage", "homepage_page_total", result="hit") == hits + 1
    assert await metric(m, "homepage", "cache_lookups_total", cache="homepage", result="hit") > 0

    await member.watch_as("Kids")  # maturity 7
    kids = await ok(await member.homepage())
    assert kids["maturity_level"] == 7
    assert "Midnight Zoom" not in shown(kids)
    assert {"Mandelbrot", "Game of Life"} <= shown(kids)


async def catalog_down_serves_the_last_good_copy(
    m: Monolith, member: Member, ids: dict[str, str]
) -> None:
    await member.watch_as("Jamie")  # maturity 13; this profile's page was never built
    await member.played(ids["Mandelbrot"], 5.0)
    async with direct(m, "catalog") as catalog_instance:
        fault = {"status": 503, "path_prefix": "/"}
        await ok(await catalog_instance.put("/faults", json=fault))
        try:
            page = await ok(await member.homepage())
        finally:
            await ok(await catalog_instance.delete("/faults"))
    assert "catalog" in page["degraded"]
    assert set(names(page, "new")) == {"Mandelbrot", "Game of Life", SERIES_NAME}
    assert "popular" in {r["id"] for r in page["rows"]}
    assert "genre:science" in {r["id"] for r in page["rows"]}
    assert names(page, "continue-watching") == ["Mandelbrot"]  # a movie the copy knows
    assert await metric(m, "homepage", "homepage_fallback_total", source="catalog") >= 1
    assert await metric(m, "homepage", "resilience_fallback_total", dependency="catalog") >= 1


async def signed_out_is_refused_at_once(m: Monolith, member: Member) -> None:
    token = await member.signin()
    async with direct(m, "identity") as identity_instance:

        async def validate() -> httpx.Response:
            return await identity_instance.post(
                "/internal/identity/sessions/validate", json={"token": token}
            )

        await ok(await validate())
        hits = await metric(m, "identity", "cache_lookups_total", cache="sessions", result="hit")
        await ok(await validate())
        assert (
            await metric(m, "identity", "cache_lookups_total", cache="sessions", result="hit")
            == hits + 1
        )  # cached
        signout = await member.client.post("/api/identity/signout", headers=member.auth())
        assert signout.status_code == 204, signout.text
        refused = await validate()
        assert refused.status_code == 404, refused.text
        assert refused.json()["error"] == "unknown_session"
    me = await member.client.get("/api/identity/me", headers=member.auth())
    assert me.status_code == 401  # identity's own routes check the session every time


async def caches_show_on_metrics(m: Monolith) -> None:
    for service, cache in (
        ("homepage", "homepage"),
        ("catalog", "catalog"),
        ("identity", "sessions"),
    ):
        assert await metric(m, service, "cache_lookups_total", cache=cache) > 0, cache
        assert await metric(m, service, "cache_hit_ratio", cache=cache) > 0, cache
        # latency per zone
        assert await metric(m, service, "cache_get_seconds_count", cache=cache, zone="local") > 0


def test_the_homepage_journey(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    platform = Platform(settings)  # migrates
    for title in SAMPLES:
        platform.assets.add(sample_asset(title))
    report = asyncio.run(seed(settings.resolved_database_url, list(platform.assets.all())))
    assert report.skipped == []

    async def main() -> None:
        front = GatewayConfig(
            shedding=SheddingConfig(enabled=False), rate_limit=RateLimitConfig(enabled=False)
        )
        services = [
            registry.SPEC,
            media.SPEC,
            identity.SPEC,
            billing.SPEC,
            catalog.SPEC,
            history.SPEC,
            HOMEPAGE,
            gateway.SPEC,
        ]
        m = Monolith(
            settings,
            RuntimeConfig(gateway=front, fault_injection=True),
            services=services,
            platform=platform,
        )
        await m.start()
        try:
            transport = httpx.ASGITransport(app=m)
            async with httpx.AsyncClient(transport=transport, base_url=FRONT, timeout=30) as c:
                member = Member(c)
                await member.signin()
                listed = await ok(await c.get("/api/catalog/titles", headers=member.auth()))
                ids = {t["name"]: t["id"] for t in listed["items"]}
                await rows_through_the_gateway(m, member, ids)
                await catalog_down_serves_the_last_good_copy(m, member, ids)
                await signed_out_is_refused_at_once(m, member)
                await caches_show_on_metrics(m)
        finally:
            await m.leave()
            await m.stop()

    asyncio.run(main())
