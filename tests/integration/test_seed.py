"""``matinee seed``: the demo household and catalog, seeded twice, then used through the gateway
of the whole monolith: sign in, pick a profile, browse, search, and have plays authorized or
refused for the reasons the seed set up (maturity, region).

The sample assets are asset rows as the pipeline records them (the seed reads only rows; the
pipeline itself is tested elsewhere), so this test needs no encoding.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from matinee.db import upgrade
from matinee.gateway.config import GatewayConfig, RateLimitConfig
from matinee.gateway.shedding import SheddingConfig
from matinee.platform import Platform
from matinee.runtime.context import RuntimeConfig
from matinee.runtime.monolith import Monolith
from matinee.seed import MEMBER_EMAIL, MEMBER_PASSWORD, MOVIES, SERIES_NAME, seed
from matinee.settings import Settings
from matinee.testing.assets import sample_asset
from matinee.web.demo import SAMPLES

BASE = "http://matinee.test"


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_seed_is_repeatable_and_the_demo_household_can_watch(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    platform = Platform(settings)  # migrates
    for title in SAMPLES:
        platform.assets.add(sample_asset(title))
    assets = list(platform.assets.all())

    first = asyncio.run(seed(settings.resolved_database_url, assets))
    assert f"account {MEMBER_EMAIL}" in first.created
    assert "premium subscription" in first.created
    assert {f"title {m.name}" for m in MOVIES} <= set(first.created)
    assert first.skipped == []
    again = asyncio.run(seed(settings.resolved_database_url, assets))
    assert again.created == []
    assert f"title {SERIES_NAME}" in again.kept

    asyncio.run(_journey(settings))


async def _journey(settings: Settings) -> None:
    upgrade(settings.resolved_database_url)
    front = GatewayConfig(
        shedding=SheddingConfig(enabled=False), rate_limit=RateLimitConfig(enabled=False)
    )
    monolith = Monolith(settings, RuntimeConfig(gateway=front))
    await monolith.start()
    transport = httpx.ASGITransport(app=monolith)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=BASE, timeout=30) as client:
            signin = await ok(
                await client.post(
                    "/api/identity/signin",
                    json={"email": MEMBER_EMAIL, "password": MEMBER_PASSWORD},
                )
            )
            auth = {"authorization": f"Bearer {signin['token']}"}
            profiles = (await ok(await client.get("/api/identity/profiles", headers=auth)))["items"]
            by_name = {p["name"]: p["id"] for p in profiles}
            assert set(by_name) == {"Alex", "Jamie", "Kids"}

            titles = await ok(await client.get("/api/catalog/titles?limit=50", headers=auth))
            names = {t["name"] for t in titles["items"]}
            assert {"Mandelbrot", "Game of Life", "Midnight Zoom", SERIES_NAME} <= names
            assert "Le Jeu" not in names  # France only; the household is in the US
            found = await ok(await client.get("/api/catalog/search?q=mandelbrott", headers=auth))
            assert "Mandelbrot" in {t["name"] for t in found["items"]}
            ids = {t["name"]: t["id"] for t in titles["items"]}

            async def start(profile: str, title_id: str) -> httpx.Response:
                chosen = await ok(
                    await client.post(
                        f"/api/identity/profiles/{by_name[profile]}/select", headers=auth
                    )
                )
                token = {"authorization": f"Bearer {chosen['token']}"}
                auth.update(token)
                return await client.post(
                    "/api/playback/start", json={"title_id": title_id}, headers=token
                )

            play = await ok(await start("Alex", ids["Midnight Zoom"]))
            assert play["max_height"] == 2160  # premium
            assert play["manifests"]["dash"].startswith("/t/")
            refused = await start("Kids", ids["Midnight Zoom"])
            assert refused.status_code == 403
            assert refused.json()["error"] == "maturity_restricted"
    finally:
        await monolith.leave()
        await monolith.stop()
