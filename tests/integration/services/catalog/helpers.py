"""Helpers for the catalog's tests on real databases: a service on a fresh database with a
fake clock, and short ways to make titles visible."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from matinee.clock import FakeClock
from matinee.db.aio import Database
from matinee.services.catalog.schemas import (
    AdminTitle,
    CreditIn,
    EpisodeCreate,
    Maturity,
    TitleCreate,
    WindowIn,
)
from matinee.services.catalog.service import CatalogService

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)

Scenario = Callable[[CatalogService, FakeClock], Awaitable[None]]


def run(url: str, scenario: Scenario) -> None:
    """Run ``scenario`` against a catalog on ``url`` whose clock reads :data:`NOW`."""

    async def main() -> None:
        db = Database(url)
        clock = FakeClock(NOW.timestamp())
        try:
            await scenario(CatalogService(db, clock), clock)
        finally:
            await db.close()

    asyncio.run(main())


async def movie(
    service: CatalogService,
    name: str,
    *,
    year: int = 2020,
    synopsis: str = "",
    genres: Sequence[str] = (),
    cast: Sequence[str] = (),
    maturity: Maturity = 13,
    countries: Sequence[str] = ("US",),
) -> AdminTitle:
    """A published movie available in ``countries`` since long ago (none: left unpublished)."""
    created = await service.create_title(
        TitleCreate(
            kind="movie",
            name=name,
            synopsis=synopsis,
            genres=list(genres),
            cast=[CreditIn(name=n) for n in cast],
            maturity=maturity,
            release_year=year,
        )
    )
    return await release(service, created.id, countries)


async def series(
    service: CatalogService,
    name: str,
    *,
    seasons: Sequence[int] = (),
    year: int = 2016,
    synopsis: str = "",
    countries: Sequence[str] = ("US",),
) -> AdminTitle:
    """A published series with ``seasons[i]`` episodes in season ``i + 1``."""
    created = await service.create_title(
        TitleCreate(kind="series", name=name, synopsis=synopsis, maturity=16, release_year=year)
    )
    for season, count in enumerate(seasons, start=1):
        for number in range(1, count + 1):
            await service.add_episode(
                created.id,
                EpisodeCreate(season=season, episode=number, name=f"S{season}E{number}"),
            )
    return await release(service, created.id, countries)


async def release(service: CatalogService, title_id: str, countries: Sequence[str]) -> AdminTitle:
    if not countries:
        return await service.admin_title(title_id)
    windows = [WindowIn(country=c, starts_at=LONG_AGO) for c in countries]
    await service.set_availability(title_id, windows)
    return await service.set_published(title_id, True)
