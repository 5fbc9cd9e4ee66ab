"""Precomputed rows (the EVCache primary-store use): one snapshot per country.

A snapshot holds the country's movies and series (newest first), their plays over the last
``popular_days`` from history, and from those the popular and per-genre rankings (see
:class:`~matinee.services.homepage.schemas.Snapshot`). It is stored in the homepage cache as
``rows:<country>`` with no TTL; requests read it and filter it by maturity.

:meth:`Precomputer.running` is a lifespan whose loop recomputes the snapshot of every country
it knows (``countries`` in the config, and each country a member asked from) every
``precompute_period_s`` on the injected clock. When the catalog cannot answer, the old snapshot
is kept: it is the last good copy the homepage falls back to. When history has no popularity
(or cannot answer), popular is catalog order, counted as a fallback. A request that finds no
snapshot for its country computes it at once (one computation per country at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from pydantic import ValidationError

from matinee.cache import Cache, CacheError
from matinee.clock import Clock
from matinee.services.homepage.config import HomepageConfig
from matinee.services.homepage.fallbacks import Fallbacks
from matinee.services.homepage.lookups import CatalogLookup, HistoryLookup, Unavailable
from matinee.services.homepage.rows import plays_by_title, snapshot_of
from matinee.services.homepage.schemas import Card, Snapshot
from matinee.telemetry.metrics import Registry

log = logging.getLogger(__name__)

PAGE = 100  # the catalog's largest page
RESOLVED = 50  # most-played titles whose series is looked up, per run


class Precomputer:
    """Computes, stores and reads the per-country snapshots."""

    def __init__(
        self,
        catalog: CatalogLookup,
        history: HistoryLookup,
        cache: Cache,
        *,
        clock: Clock,
        config: HomepageConfig,
        fallbacks: Fallbacks,
        metrics: Registry,
    ) -> None:
        self.catalog = catalog
        self.history = history
        self.cache = cache
        self.clock = clock
        self.config = config
        self.fallbacks = fallbacks
        self.countries: set[str] = set(config.countries)
        self._runs = {
            result: metrics.counter("homepage.precompute", result=result)
            for result in ("ok", "error")
        }

    @staticmethod
    def key(country: str) -> str:
        return f"rows:{country}"

    async def compute(self, country: str) -> Snapshot:
        """The country's snapshot now; Unavailable when the catalog cannot answer."""
        cards: list[Card] = []
        cursor: str | None = None
        while len(cards) < self.config.max_titles:
            limit = min(PAGE, self.config.max_titles - len(cards))
            page, cursor = await self.catalog.titles(country, None, limit=limit, cursor=cursor)
            cards.extend(page)
            if cursor is None:
                break
        self.fallbacks.ok("catalog")
        plays = await self._plays(country, cards)
        return snapshot_of(country, self.clock.time(), cards, plays)

    async def _plays(self, country: str, cards: list[Card]) -> dict[str, int] | None:
        try:
            ranking = await self.history.popular(
                country, days=self.config.popular_days, limit=self.config.max_titles
            )
        except Unavailable as exc:
            self.fallbacks.take("popularity", "catalog_order", str(exc))
            return None
        if ranking is None:
            self.fallbacks.take(
                "popularity", "catalog_order", "history keeps no popularity ranking yet"
            )
            return None
        self.fallbacks.ok("popularity")
        known = {card.id for card in cards}
        series: dict[str, str | None] = {}
        for entry in [e for e in ranking if e.title_id not in known][:RESOLVED]:
            try:  # an episode's plays count for its series
                series[entry.title_id] = await self.catalog.series_of(entry.title_id)
            except Unavailable:
                break
        return plays_by_title(ranking, series, known)

    async def refresh(self, country: str) -> bool:
        """Recompute and store the country's snapshot; False (old copy kept) on failure."""
        try:
            snapshot = await self.compute(country)
        except Unavailable as exc:
            self._runs["error"].inc()
            self.fallbacks.take(exc.source, "kept_old", f"precomputing {country}: {exc}")
            return False
        try:
            await self.cache.set(self.key(country), snapshot.model_dump_json().encode(), ttl=None)
        except CacheError as exc:
            self._runs["error"].inc()
            log.warning("could not store the rows of %s: %s", country, exc)
            return False
        self._runs["ok"].inc()
        return True

    async def snapshot(self, country: str) -> Snapshot | None:
        """The country's stored snapshot, computed now if there is none; None when there is
        none and the catalog cannot answer."""
        self.countries.add(country)

        async def load() -> bytes:
            return (await self.compute(country)).model_dump_json().encode()

        try:
            raw = await self.cache.get_or_load(self.key(country), load, ttl=None)
        except Unavailable:
            return None
        try:
            return Snapshot.model_validate_json(raw)
        except ValidationError:  # written by another version: replace it
            log.info("the stored rows of %s are in an older form; recomputing", country)
            if not await self.refresh(country):
                return None
            return await self.snapshot(country)

    async def run_once(self) -> int:
        """Refresh every known country; how many succeeded."""
        done = 0
        for country in sorted(self.countries):
            done += await self.refresh(country)
        return done

    def running(self) -> Callable[[], AbstractAsyncContextManager[None]]:
        """A lifespan that refreshes every ``precompute_period_s`` while the instance lives."""

        async def loop() -> None:
            while True:
                await self.clock.sleep(self.config.precompute_period_s)
                try:
                    await self.run_once()
                except Exception:  # the next period tries again
                    log.exception("precomputing the homepage rows failed")

        @asynccontextmanager
        async def lifespan() -> AsyncIterator[None]:
            task = asyncio.create_task(loop(), name="homepage-precompute")
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

        return lifespan
