"""The catalog's public reads through the page cache, on every database: hits, maturity
buckets, an admin write making a title's pages (and its series' or episodes') unreachable at
once, lists that only expire, and a page built from data read before a write never served."""

from __future__ import annotations

import json

import pytest

from matinee.cache import Cache, open_cache
from matinee.clock import FakeClock
from matinee.services.catalog.errors import TitleNotFound
from matinee.services.catalog.page_cache import LIST_TTL_S, PageCache, maturity_bucket
from matinee.services.catalog.schemas import TitleDetail, TitlePage, TitleUpdate
from matinee.services.catalog.service import CatalogService
from matinee.services.catalog.store import Audience
from matinee.telemetry.metrics import Registry

from .helpers import movie, run, series


def pages_of(service: CatalogService, clock: FakeClock) -> tuple[PageCache, Registry]:
    metrics = Registry(clock)
    cache: Cache = open_cache("memory://", name="catalog", clock=clock, metrics=metrics)
    return PageCache(cache, cache.named("catalog.gen"), service), metrics


def hits(metrics: Registry) -> float:
    return metrics.counter("cache.lookups", cache="catalog", result="hit").value


async def names(pages: PageCache, viewer: Audience) -> list[str]:
    async def load() -> TitlePage:
        return await pages.service.titles(viewer)

    body = json.loads(await pages.titles(viewer, load, sort="newest"))
    return [item["name"] for item in body["items"]]


def test_maturity_limits_share_the_page_of_their_rating() -> None:
    assert [maturity_bucket(m) for m in (None, 0, 6, 7, 12, 13, 15, 16, 17, 18)] == [
        None,
        0,
        0,
        7,
        7,
        13,
        13,
        16,
        16,
        None,
    ]


def test_a_title_page_is_served_from_the_cache_until_an_admin_changes_it(db_url: str) -> None:
    async def scenario(service: CatalogService, clock: FakeClock) -> None:
        pages, metrics = pages_of(service, clock)
        bunny = await movie(service, "Bunny", maturity=7)
        viewer = pages.audience("US", 12)
        first = await pages.title(viewer, bunny.id)
        assert TitleDetail.model_validate_json(first).name == "Bunny"
        assert await pages.title(pages.audience("US", 7), bunny.id) == first
        assert hits(metrics) == 1  # 12 and 7 read the same page
        with pytest.raises(TitleNotFound):
            await pages.title(pages.audience("US", 0), bunny.id)  # errors are not cached
        with pytest.raises(TitleNotFound):
            await pages.title(pages.audience("US", 0), bunny.id)

        await service.update_title(bunny.id, TitleUpdate(name="Big Buck Bunny"))
        assert await pages.title(viewer, bunny.id) == first  # not told yet: still cached
        await pages.forget(bunny.id)
        renamed = TitleDetail.model_validate_json(await pages.title(viewer, bunny.id))
        assert renamed.name == "Big Buck Bunny"

        await service.set_published(bunny.id, False)
        await pages.forget(bunny.id)
        with pytest.raises(TitleNotFound):
            await pages.title(viewer, bunny.id)

    run(db_url, scenario)


def test_episodes_and_their_series_are_forgotten_together(db_url: str) -> None:
    async def scenario(service: CatalogService, clock: FakeClock) -> None:
        pages, _ = pages_of(service, clock)
        show = await series(service, "Show", seasons=[2])
        viewer = pages.audience("US", None)
        page = TitleDetail.model_validate_json(await pages.title(viewer, show.id))
        assert page.seasons is not None
        first, _ = page.seasons[0].episodes
        assert first.name == "S1E1"
        await pages.title(viewer, first.id)

        await service.update_title(first.id, TitleUpdate(name="Pilot"))
        await pages.forget(first.id)  # an episode: its series' page changes too
        page = TitleDetail.model_validate_json(await pages.title(viewer, show.id))
        assert page.seasons is not None
        assert page.seasons[0].episodes[0].name == "Pilot"

        await service.set_published(show.id, False)
        await pages.forget(show.id)  # a series: its episodes follow it
        with pytest.raises(TitleNotFound):
            await pages.title(viewer, first.id)

    run(db_url, scenario)


def test_lists_expire_on_their_own(db_url: str) -> None:
    async def scenario(service: CatalogService, clock: FakeClock) -> None:
        pages, _ = pages_of(service, clock)
        await movie(service, "Old", year=2000)
        viewer = pages.audience("US", None)
        assert await names(pages, viewer) == ["Old"]
        await movie(service, "New", year=2020)
        assert await names(pages, viewer) == ["Old"]
        clock.advance(LIST_TTL_S + 1)
        assert await names(pages, pages.audience("US", None)) == ["New", "Old"]

    run(db_url, scenario)


def test_a_page_read_before_a_write_is_never_served_after_it(db_url: str) -> None:
    """The reader reads the generation, then the database; the write commits and forgets;
    then the reader stores its (old) page. The next read must not get it."""

    class Racing(CatalogService):
        race = True
        pages: PageCache

        async def title(self, audience: Audience, title_id: str) -> TitleDetail:
            page = await super().title(audience, title_id)
            if self.race:
                self.race = False
                await self.update_title(title_id, TitleUpdate(name="After"))
                await self.pages.forget(title_id)
            return page

    async def scenario(service: CatalogService, clock: FakeClock) -> None:
        racing = Racing(service.db, clock)
        racing.pages = pages = pages_of(racing, clock)[0]
        title = await movie(racing, "Before")
        viewer = pages.audience("US", None)
        stale = TitleDetail.model_validate_json(await pages.title(viewer, title.id))
        assert stale.name == "Before"  # what that reader saw
        fresh = TitleDetail.model_validate_json(await pages.title(viewer, title.id))
        assert fresh.name == "After"

    run(db_url, scenario)
