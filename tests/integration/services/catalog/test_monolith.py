"""The catalog in a monolith (registry, media, catalog, gateway) with a really ingested asset:
an admin links it to a title, viewers browse and search through the gateway and fetch the
poster the media service serves, other services read the internal contract.

Admin and signed-in calls go straight to the catalog instance with identity headers signed by
the monolith's key (the gateway strips client-sent ones; the identity service that makes real
ones is tested on its own).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from fractions import Fraction
from pathlib import Path

import httpx
import pytest

from matinee.assets.models import Asset
from matinee.gateway.auth import Identity, identity_headers
from matinee.jobs.models import JobState
from matinee.media.samples import SampleSpec, make_sample
from matinee.platform import Platform
from matinee.runtime.context import RuntimeConfig
from matinee.runtime.monolith import Monolith
from matinee.services import gateway, media, registry
from matinee.services.catalog import SPEC as CATALOG
from matinee.testing.pipeline import MakePlatform, ingest

pytestmark = pytest.mark.slow  # ingests a (tiny) master through the real pipeline

FRONT = "http://matinee.test"
INTERNAL_KEYS = {
    "id",
    "kind",
    "name",
    "published",
    "maturity",
    "runtime_s",
    "asset_id",
    "series_id",
    "season",
    "episode",
    "next_episode_id",
    "availability",
}


def packaged(make_platform: MakePlatform, tmp_path: Path) -> Platform:
    platform = make_platform()
    spec = SampleSpec(width=320, height=180, fps=Fraction(25), seconds=2.0)
    _, state = ingest(platform, make_sample(tmp_path / "bunny.mp4", spec), "Bunny master")
    assert state is JobState.SUCCEEDED
    return platform


@asynccontextmanager
async def monolith(
    platform: Platform,
) -> AsyncIterator[tuple[Monolith, httpx.AsyncClient]]:
    m = Monolith(
        platform.settings,
        RuntimeConfig(),
        services=[registry.SPEC, media.SPEC, CATALOG, gateway.SPEC],
        platform=platform,
    )
    await m.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=m), base_url=FRONT) as c:
            yield m, c
    finally:
        await m.leave()
        await m.stop()


def direct(m: Monolith, who: Identity | None = None) -> httpx.AsyncClient:
    """A client of the catalog instance itself, as ``who`` (signed with the monolith's key)."""
    headers = {}
    if who is not None:
        assert m.config.identity_key is not None
        headers = dict(identity_headers(who, m.config.identity_key, time.time()))
    app = m.instance("catalog").app
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://catalog", headers=headers
    )


ADMIN = Identity("admin-1", roles=("admin",), country="US")
MEMBER_GB = Identity("member-1", profile="p-1", country="GB")
BUNNY = {
    "kind": "movie",
    "name": "Big Buck Bunny",
    "synopsis": "A giant rabbit takes revenge on three bullies.",
    "genres": ["Animation", "Comedy"],
    "cast": [{"name": "Bunny", "role": "voice"}],
    "maturity": 0,
    "release_year": 2008,
}


async def only_admins_write(m: Monolith, front: httpx.AsyncClient) -> None:
    refused = await front.post("/api/catalog/titles", json=BUNNY)
    assert refused.status_code == 401, refused.text
    async with direct(m, MEMBER_GB) as member:
        forbidden = await member.post("/api/catalog/titles", json=BUNNY)
        assert forbidden.status_code == 403, forbidden.text


async def admin_releases_and_links(m: Monolith, asset: Asset) -> str:
    """Create, give a window, publish and link ``asset``; the title's id."""
    tallest = max(t.height or 0 for t in asset.tracks if t.kind == "video")
    async with direct(m, ADMIN) as admin:
        created = await admin.post("/api/catalog/titles", json=BUNNY)
        assert created.status_code == 201, created.text
        title_id: str = created.json()["id"]
        assert created.json()["published"] is False
        windows = {"windows": [{"country": "US", "starts_at": "2020-01-01T00:00:00Z"}]}
        put = await admin.put(f"/api/catalog/titles/{title_id}/availability", json=windows)
        assert put.status_code == 200, put.text
        published = await admin.post(f"/api/catalog/titles/{title_id}/publish")
        assert published.json()["published"] is True

        linked = await admin.post(
            f"/api/catalog/titles/{title_id}/asset", json={"asset_id": asset.id}
        )
        assert linked.status_code == 200, linked.text
        body = linked.json()
        assert body["asset_id"] == asset.id
        assert body["artwork"]["poster"] == f"/media/{asset.poster_key}"
        assert body["artwork"]["trickplay"] == f"/media/{asset.trickplay_key}"
        assert (body["max_height"], body["runtime_s"]) == (tallest, round(asset.duration))
        assert body["playable"] is True

        unknown = await admin.post(
            f"/api/catalog/titles/{title_id}/asset", json={"asset_id": "no-such-asset"}
        )
        assert unknown.status_code == 422, unknown.text
        assert unknown.json()["error"] == "asset_not_found"
        nowhere = await admin.post("/api/catalog/titles/nope/asset", json={"asset_id": asset.id})
        assert nowhere.status_code == 404
        assert nowhere.json()["error"] == "title_not_found"
    return title_id


async def viewers_browse_and_search(front: httpx.AsyncClient, title_id: str) -> None:
    listed = await front.get("/api/catalog/titles")
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["items"]
    assert item["id"] == title_id
    assert [g["slug"] for g in item["genres"]] == ["animation", "comedy"]
    poster = await front.get(item["artwork"]["poster"])
    assert poster.status_code == 200
    assert poster.headers["content-type"] == "image/jpeg"
    assert poster.content[:3] == b"\xff\xd8\xff"

    page = await front.get(f"/api/catalog/titles/{title_id}")
    assert page.json()["cast"] == [{"name": "Bunny", "role": "voice", "character": None}]
    search = await front.get("/api/catalog/search", params={"q": "bnuny rabit"})
    assert search.status_code == 200, search.text
    assert [t["id"] for t in search.json()["items"]] == [title_id]
    assert search.json()["matched"] == [["bunny"], ["rabbit"]]
    genres = await front.get("/api/catalog/genres", params={"limit": 1})
    assert genres.json()["items"] == [{"slug": "animation", "name": "Animation"}]
    assert genres.json()["next_cursor"]


async def countries_decide(m: Monolith, front: httpx.AsyncClient, title_id: str) -> None:
    """Anonymous callers name a country; a signed-in member's own country wins."""
    abroad = await front.get("/api/catalog/titles", params={"country": "GB"})
    assert abroad.json() == {"items": [], "next_cursor": None}
    async with direct(m, MEMBER_GB) as member:
        mine = await member.get("/api/catalog/titles", params={"country": "US"})
        assert mine.json()["items"] == []
        hidden = await member.get(f"/api/catalog/titles/{title_id}")
        assert hidden.status_code == 404


async def services_read_the_contract(
    m: Monolith, front: httpx.AsyncClient, title_id: str, asset: Asset
) -> None:
    async with direct(m) as service:
        internal = await service.get(f"/internal/catalog/titles/{title_id}")
        assert set(internal.json()) == INTERNAL_KEYS
        assert internal.json()["asset_id"] == asset.id
        available = await service.get(
            f"/internal/catalog/titles/{title_id}/available",
            params={"country": "GB", "at": time.time()},
        )
        assert available.json() == {"available": False, "reason": "region"}
        here = await service.get(f"/internal/catalog/titles/{title_id}/available")
        assert here.json() == {"available": True, "reason": None}
    outside = await front.get(f"/internal/catalog/titles/{title_id}")
    assert outside.status_code == 404  # the gateway never routes internal paths


def test_an_admin_links_a_real_asset_and_viewers_find_it_through_the_gateway(
    make_platform: MakePlatform, tmp_path: Path
) -> None:
    platform = packaged(make_platform, tmp_path)
    (asset,) = platform.assets.all()

    async def main() -> None:
        async with monolith(platform) as (m, front):
            await only_admins_write(m, front)
            title_id = await admin_releases_and_links(m, asset)
            await viewers_browse_and_search(front, title_id)
            await countries_decide(m, front, title_id)
            await services_read_the_contract(m, front, title_id, asset)

    asyncio.run(main())


def test_bad_input_is_refused_naming_the_field(make_platform: MakePlatform) -> None:
    platform = make_platform()

    async def main() -> None:
        async with monolith(platform) as (m, front):
            too_many = await front.get("/api/catalog/titles", params={"limit": 1000})
            assert too_many.status_code == 422
            assert "limit" in too_many.json()["message"]
            damaged = await front.get("/api/catalog/titles", params={"cursor": "garbage!"})
            assert damaged.status_code == 400, damaged.text
            assert damaged.json()["error"] == "invalid_cursor"
            assert damaged.json()["message"].startswith("cursor:")
            country = await front.get("/api/catalog/titles", params={"country": "usa"})
            assert country.status_code == 422
            assert "country" in country.json()["message"]
            async with direct(m, ADMIN) as admin:
                bad = await admin.post(
                    "/api/catalog/titles",
                    json={"kind": "movie", "name": "X", "maturity": 12, "release_year": 2000},
                )
                assert bad.status_code == 422
                assert "maturity" in bad.json()["message"]
                window = {
                    "windows": [
                        {
                            "country": "US",
                            "starts_at": "2020-01-02T00:00:00Z",
                            "ends_at": "2020-01-01T00:00:00Z",
                        }
                    ]
                }
                backwards = await admin.put("/api/catalog/titles/x/availability", json=window)
                assert backwards.status_code == 422
                assert "ends_at" in backwards.json()["message"]
            async with direct(m) as service:
                schema = (await service.get("/openapi.json")).json()
            for path, operations in schema["paths"].items():
                if path.startswith("/api/catalog"):
                    for operation in operations.values():
                        assert operation.get("summary"), (path, operation)

    asyncio.run(main())
