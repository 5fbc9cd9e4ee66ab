"""The playback API behind the real gateway and the real media service, in one monolith, with
in-memory stand-ins for identity, billing and catalog (``fakes.py``): the JSON a player gets,
every refusal's status and code, heartbeats and stops, and failing dependencies (503).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from matinee.platform import Platform
from matinee.runtime.monolith import Monolith
from matinee.settings import Settings

from . import fakes

BASE = "http://matinee.test"


@dataclass
class World:
    monolith: Monolith
    client: httpx.AsyncClient
    household: fakes.Household

    async def start(self, token: str | None, title: str = "film", **extra: str) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        body = {"title_id": title, **extra}
        return await self.client.post("/api/playback/start", json=body, headers=headers)

    async def lease(self, action: str, token: str, lease_id: str) -> httpx.Response:
        return await self.client.post(
            f"/api/playback/{action}",
            json={"lease_id": lease_id},
            headers={"authorization": f"Bearer {token}"},
        )


def refused(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == code, body
    assert body["request_id"]
    return str(body["message"])


def run(tmp_path: Path, body: Callable[[World], Awaitable[None]]) -> None:
    platform = Platform(Settings(data_dir=tmp_path / "data"))  # migrates the database
    fakes.publish_asset(platform)
    h = fakes.household()

    async def main() -> None:
        m = Monolith(
            platform.settings, fakes.runtime_config(), services=fakes.services(h), platform=platform
        )
        await m.start()
        try:
            transport = httpx.ASGITransport(app=m)
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
                await body(World(m, c, h))
        finally:
            await m.leave()
            await m.stop()

    asyncio.run(main())


def test_a_start_answers_what_a_player_needs(tmp_path: Path) -> None:
    async def body(w: World) -> None:
        answer = await w.start("adult", device_id="tv-1")
        assert answer.status_code == 200, answer.text
        play = answer.json()
        assert set(play) == {
            "lease_id",
            "lease_expires_at",
            "heartbeat_interval_s",
            "title_id",
            "asset_id",
            "max_height",
            "renditions",
            "manifests",
            "urls_expire_at",
            "urls_valid_s",
            "delivery",
        }
        assert (play["title_id"], play["asset_id"], play["max_height"]) == ("film", "a1", 720)
        assert play["delivery"] == [{"name": "origin", "base_url": BASE}]
        assert [r["name"] for r in play["renditions"]][-2:] == ["720p-3000k", "720p-4500k"]
        assert play["renditions"][0] == {
            "name": "234p-145k",
            "width": 416,
            "height": 234,
            "average_bps": 936000,
            "codecs": "avc1",
        }
        hls = await w.client.get(play["delivery"][0]["base_url"] + play["manifests"]["hls"])
        assert hls.status_code == 200
        assert "video/720p-4500k/index.m3u8" in hls.text
        assert "1080p" not in hls.text
        signed = play["manifests"]["hls"].rsplit("/", 1)[0]
        segment = await w.client.get(f"{BASE}{signed}/video/720p-3000k/00001.m4s")
        assert (segment.status_code, segment.content) == (200, b"7" * 2000)
        tall = await w.client.get(f"{BASE}{signed}/video/1080p-6000k/00001.m4s")
        refused(tall, 403, "rendition_not_allowed")
        # A host header the client sent is what it gets back as the origin.
        other = await w.client.post(
            "/api/playback/start",
            json={"title_id": "film", "device_id": "tv-1"},
            headers={"authorization": "Bearer adult", "host": "cdn.example:8443"},
        )
        assert other.json()["delivery"] == [
            {"name": "origin", "base_url": "http://cdn.example:8443"}
        ]

    run(tmp_path, body)


def test_refusals_carry_their_codes(tmp_path: Path) -> None:
    async def body(w: World) -> None:
        refused(await w.start(None), 401, "unauthorized")
        refused(await w.start("forged-token"), 401, "unauthorized")
        refused(await w.start("chooser"), 403, "no_profile")
        refused(await w.start("lapsed"), 403, "subscription_inactive")
        refused(await w.start("adult", "nothing"), 404, "title_not_found")
        refused(await w.start("adult", "void"), 403, "title_unavailable")
        assert "(FR)" in refused(await w.start("abroad"), 403, "region_unavailable")
        refused(await w.start("kid"), 403, "maturity_restricted")
        w.household.titles["film"]["published"] = False
        refused(await w.start("adult"), 403, "title_unavailable")
        w.household.titles["film"]["published"] = True
        bad = await w.start("adult", "../../etc")
        assert bad.status_code == 422
        assert "title_id" in bad.json()["message"]
        nobody = await w.client.post(
            "/api/playback/start", json={}, headers={"authorization": "Bearer adult"}
        )
        assert nobody.status_code == 422
        assert "title_id" in nobody.json()["message"]

    run(tmp_path, body)


def test_the_stream_limit_heartbeats_and_stop(tmp_path: Path) -> None:
    async def body(w: World) -> None:
        tv = (await w.start("adult", device_id="tv")).json()
        message = refused(await w.start("adult", device_id="phone"), 409, "stream_limit_reached")
        assert message.startswith("Your Basic plan allows 1 stream at a time")
        again = await w.start("adult", device_id="tv")
        assert again.json()["lease_id"] == tv["lease_id"]
        beat = await w.lease("heartbeat", "adult", tv["lease_id"])
        assert beat.status_code == 200
        assert beat.json()["lease_id"] == tv["lease_id"]
        refused(await w.lease("heartbeat", "abroad", tv["lease_id"]), 404, "lease_not_found")
        stopped = await w.lease("stop", "adult", tv["lease_id"])
        assert stopped.json() == {"lease_id": tv["lease_id"], "released": True}
        assert (await w.lease("stop", "adult", tv["lease_id"])).json()["released"] is False
        refused(await w.lease("heartbeat", "adult", tv["lease_id"]), 404, "lease_not_found")
        assert (await w.start("adult", device_id="phone")).status_code == 200
        refused(await w.lease("stop", "", tv["lease_id"]), 401, "unauthorized")
        invalid = await w.lease("heartbeat", "adult", "not a lease id!")
        assert invalid.status_code == 422

    run(tmp_path, body)


@pytest.mark.parametrize(
    ("service", "answer"),
    [
        ("billing", (500, {"error": "internal"})),
        ("billing", (200, {"surprise": True})),
        ("catalog", (503, {"error": "unavailable"})),
        ("catalog", (200, {"id": "film"})),
        ("identity", (200, {"id": "p-adult"})),
    ],
)
def test_a_dependency_that_fails_is_a_503(
    tmp_path: Path, service: str, answer: tuple[int, Any]
) -> None:
    async def body(w: World) -> None:
        w.household.answers[service] = answer
        message = refused(await w.start("adult"), 503, "dependency_unavailable")
        assert service in message
        del w.household.answers[service]
        assert (await w.start("adult")).status_code == 200  # and nothing was taken meanwhile

    run(tmp_path, body)


def test_a_dependency_that_is_gone_is_a_503(tmp_path: Path) -> None:
    async def body(w: World) -> None:
        await w.monolith.instance("catalog").runtime.stop()
        await w.monolith.instance("playback").runtime.ctx.discovery.refresh()
        message = refused(await w.start("adult"), 503, "dependency_unavailable")
        assert "catalog service is not answering" in message

    run(tmp_path, body)
