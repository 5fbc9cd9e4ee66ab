"""The catalog's releases (``/internal/catalog/releases``), which the fill's newness prior reads:
playable titles whose window in a country opens within a span, on every database."""

from __future__ import annotations

from datetime import timedelta

from matinee.clock import FakeClock
from matinee.services.catalog.assets import AssetInfo
from matinee.services.catalog.releases import releases
from matinee.services.catalog.schemas import EpisodeCreate, TitleCreate, WindowIn
from matinee.services.catalog.service import CatalogService

from ..services.catalog.helpers import LONG_AGO, NOW, run


async def title(
    service: CatalogService,
    name: str,
    windows: dict[str, timedelta | None],
    *,
    asset: bool = True,
    published: bool = True,
) -> str:
    """A movie with windows (country -> start relative to NOW; None: long ago)."""
    created = await service.create_title(
        TitleCreate(kind="movie", name=name, maturity=0, release_year=2026)
    )
    await open_windows(service, created.id, windows)
    if asset:
        await link(service, created.id)
    if published:
        await service.set_published(created.id, True)
    return created.id


async def open_windows(
    service: CatalogService, title_id: str, windows: dict[str, timedelta | None]
) -> None:
    found = [
        WindowIn(country=c, starts_at=LONG_AGO if d is None else NOW + d)
        for c, d in windows.items()
    ]
    await service.set_availability(title_id, found)


async def link(service: CatalogService, title_id: str) -> None:
    info = AssetInfo(f"asset-{title_id[:8]}", None, None, 60.0, 720)
    await service.link_asset(title_id, info)


def test_releases_in_a_span_newest_first_with_episodes_following_their_series(
    db_url: str,
) -> None:
    async def scenario(service: CatalogService, clock: FakeClock) -> None:
        day = timedelta(days=1)
        new = await title(service, "New", {"US": -day})
        await title(service, "Old", {"US": None})
        french = await title(service, "French", {"FR": -day})
        await title(service, "Unpublished", {"US": -day}, published=False)
        await title(service, "No video", {"US": -day}, asset=False)
        upcoming = await title(service, "Upcoming", {"US": day / 2})
        show = await service.create_title(
            TitleCreate(kind="series", name="Show", maturity=0, release_year=2026)
        )
        await open_windows(service, show.id, {"US": -2 * day})
        await service.set_published(show.id, True)
        episodes = []
        for n, published in ((1, True), (2, True), (3, False)):
            episode = await service.add_episode(
                show.id, EpisodeCreate(season=1, episode=n, name=f"E{n}", published=published)
            )
            await link(service, episode.id)
            episodes.append(episode.id)
        await open_windows(service, episodes[1], {"US": -30 * day})  # its own, older window

        since, until = NOW - 14 * day, NOW + day
        found = await releases(service, "US", since, until, 50)
        assert [r.title_id for r in found] == [upcoming, new, episodes[0]]
        assert [r.released_at for r in found] == [
            (NOW + day / 2).timestamp(),
            (NOW - day).timestamp(),
            (NOW - 2 * day).timestamp(),
        ]
        assert found[1].asset_id == f"asset-{new[:8]}"
        assert [r.title_id for r in await releases(service, "FR", since, until, 50)] == [french]
        assert len(await releases(service, "US", since, until, 2)) == 2
        assert await releases(service, "US", NOW + 2 * day, NOW + 3 * day, 50) == []

    run(db_url, scenario)
