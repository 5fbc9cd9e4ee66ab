"""The homepage's logic: a profile's rows, read from the cache first.

A page is kept in the homepage cache as ``page:<profile>:<country>:<maturity>`` for
``page_ttl_s`` (look-aside; maturity and country are in the key, so a changed maturity level
is felt at once). On a miss it is built from the country's precomputed snapshot
(``precompute.py``) and, concurrently:

* the catalog: the newest titles (fallback: the snapshot's, the last good copy);
* history: continue-watching, its episodes named from the catalog (fallback: no row);
* recommendations: "because you watched" the profile's most recent titles (fallback: none).

The profile's maturity level comes from identity (fallback: 0, titles for every age). Every
fallback is counted in ``homepage.fallback`` and logged once per outage; a page built with
one names the sources in ``degraded`` and is kept only ``degraded_ttl_s``.
``homepage.page`` {result=hit|miss} counts reads.
"""

from __future__ import annotations

import asyncio
import contextlib

from matinee.cache import Cache, CacheError
from matinee.clock import Clock
from matinee.gateway.auth import Identity
from matinee.services.homepage import rows
from matinee.services.homepage.config import HomepageConfig
from matinee.services.homepage.errors import ProfileNotFound
from matinee.services.homepage.fallbacks import Fallbacks
from matinee.services.homepage.lookups import (
    CatalogLookup,
    HistoryLookup,
    ProfileLookup,
    Resume,
    Unavailable,
)
from matinee.services.homepage.precompute import Precomputer
from matinee.services.homepage.recommend import Recommender
from matinee.services.homepage.schemas import Card, HomePage, Row, Snapshot, Source
from matinee.telemetry.metrics import Registry

RECENT_EVENTS = 100  # history events looked at for what the profile watched
RESOLVED = 10  # recent titles whose series is looked up
CONCURRENT = 4  # catalog calls in flight for continue-watching
SAFE_MATURITY = 0  # when identity cannot say: titles for every age


class HomepageService:
    def __init__(
        self,
        catalog: CatalogLookup,
        history: HistoryLookup,
        profiles: ProfileLookup,
        cache: Cache,
        *,
        clock: Clock,
        metrics: Registry,
        config: HomepageConfig | None = None,
    ) -> None:
        self.catalog = catalog
        self.history = history
        self.profiles = profiles
        self.cache = cache
        self.clock = clock
        self.config = config or HomepageConfig()
        self.fallbacks = Fallbacks(metrics)
        self.precomputer = Precomputer(
            catalog,
            history,
            cache,
            clock=clock,
            config=self.config,
            fallbacks=self.fallbacks,
            metrics=metrics,
        )
        self.recommender = Recommender(
            catalog, cache, ttl_s=self.config.because_ttl_s, keep=self.config.row_size * 3
        )
        self._reads = {r: metrics.counter("homepage.page", result=r) for r in ("hit", "miss")}
        self._build = metrics.timer("homepage.build")

    async def page(self, viewer: Identity) -> bytes:
        """The viewer's page as JSON (``HomePage``)."""
        if viewer.profile is None:
            raise ProfileNotFound("Choose a profile first.")
        degraded: set[Source] = set()
        maturity = await self._maturity(viewer.profile, degraded)
        country = await self._country(viewer, degraded)
        key = f"page:{viewer.profile}:{country}:{maturity}"
        try:
            cached = await self.cache.get(key)
        except CacheError:
            cached = None  # counted by the cache; build it
        if cached is not None:
            self._reads["hit"].inc()
            return cached
        self._reads["miss"].inc()
        with self._build.time():
            page = await self.build(viewer, country, maturity, degraded)
        body = page.model_dump_json().encode()
        # A rebuild can mend a page only where a service failed (popularity is precomputed).
        mendable = set(page.degraded) - {"popularity"}
        ttl = self.config.degraded_ttl_s if mendable else self.config.page_ttl_s
        with contextlib.suppress(CacheError):  # counted and logged by the cache
            await self.cache.set(key, body, ttl=ttl)
        return body

    async def _maturity(self, profile_id: str, degraded: set[Source]) -> int:
        try:
            maturity = await self.profiles.maturity(profile_id)
        except Unavailable as exc:
            self.fallbacks.take("identity", "most_restrictive", str(exc))
            degraded.add("identity")
            return SAFE_MATURITY
        self.fallbacks.ok("identity")
        if maturity is None:
            raise ProfileNotFound("This profile no longer exists; choose another one.")
        return maturity

    async def _country(self, viewer: Identity, degraded: set[Source]) -> str:
        if viewer.country:
            return viewer.country
        try:
            country = await self.profiles.country(viewer.subject)
        except Unavailable as exc:
            self.fallbacks.take("identity", "default_country", str(exc))
            degraded.add("identity")
            return self.config.default_country
        return country or self.config.default_country

    async def build(
        self, viewer: Identity, country: str, maturity: int, degraded: set[Source]
    ) -> HomePage:
        """The page built from its sources (no page cache involved)."""
        snapshot = await self.precomputer.snapshot(country)
        if snapshot is None:
            self.fallbacks.take("catalog", "no_rows", f"no rows of {country} and no catalog")
            degraded.add("catalog")
        new, continuing, because = await asyncio.gather(
            self._new(country, maturity, snapshot, degraded),
            self._continue(viewer, country, maturity, snapshot, degraded),
            self._because(viewer, maturity, snapshot, degraded),
        )
        size = self.config.row_size
        popular = rows.popular_row(snapshot, maturity, size) if snapshot else None
        genres = rows.genre_rows(snapshot, maturity, size) if snapshot else []
        if snapshot is not None and snapshot.popularity == "catalog":
            degraded.add("popularity")
        return HomePage(
            profile_id=viewer.profile or "",
            country=country,
            maturity_level=maturity,
            generated_at=self.clock.time(),
            degraded=sorted(degraded),
            rows=rows.assemble(continuing, because, new, popular, genres),
        )

    async def _new(
        self, country: str, maturity: int, snapshot: Snapshot | None, degraded: set[Source]
    ) -> Row | None:
        size = self.config.row_size
        try:
            cards, _ = await self.catalog.titles(country, maturity, limit=size)
        except Unavailable as exc:
            degraded.add("catalog")
            if snapshot is None:
                self.fallbacks.take("catalog", "no_rows", str(exc))
                return None
            self.fallbacks.take("catalog", "last_good", str(exc))
            return rows.new_row(rows.of_ids(snapshot, snapshot.new), maturity, size)
        self.fallbacks.ok("catalog")
        return rows.new_row(cards, maturity, size)

    async def _continue(
        self,
        viewer: Identity,
        country: str,
        maturity: int,
        snapshot: Snapshot | None,
        degraded: set[Source],
    ) -> Row | None:
        try:
            items = await self.history.continue_watching(viewer, limit=self.config.row_size)
        except Unavailable as exc:
            self.fallbacks.take("history", "no_rows", str(exc))
            degraded.add("history")
            return None
        self.fallbacks.ok("history")
        gate = asyncio.Semaphore(CONCURRENT)

        async def card(item: Resume) -> Card | None:
            async with gate:
                return await self._card(item, country, maturity, snapshot, degraded)

        cards = [c for c in await asyncio.gather(*(card(i) for i in items)) if c is not None]
        return rows.row("continue-watching", "continue_watching", "Continue watching", cards)

    async def _card(
        self,
        item: Resume,
        country: str,
        maturity: int,
        snapshot: Snapshot | None,
        degraded: set[Source],
    ) -> Card | None:
        """The card of a title to resume; None when the profile may not watch it here."""
        known = snapshot.titles.get(item.title_id) if snapshot else None
        found: Card | None = known
        if known is None:  # an episode, or a title newer than the snapshot
            try:
                info = await self.catalog.title(item.title_id, country, maturity)
            except Unavailable as exc:
                self.fallbacks.take("catalog", "last_good", str(exc))
                degraded.add("catalog")
                return None
            found = info.card if info is not None else None
        if found is None or not rows.allowed(found, maturity):
            return None
        series = snapshot.titles.get(found.series_id) if snapshot and found.series_id else None
        return found.model_copy(
            update={
                "progress": item.progress,
                "position_s": item.position_s,
                "series_name": series.name if series is not None else None,
            }
        )

    async def _because(
        self, viewer: Identity, maturity: int, snapshot: Snapshot | None, degraded: set[Source]
    ) -> list[Row]:
        if snapshot is None or self.config.because_rows == 0:
            return []
        try:
            recent = await self.history.recent_titles(viewer, limit=RECENT_EVENTS)
        except Unavailable as exc:
            self.fallbacks.take("history", "no_rows", str(exc))
            degraded.add("history")
            return []
        watched = set(recent)
        seeds: list[str] = []
        try:
            for title_id in recent[:RESOLVED]:
                top = title_id
                if title_id not in snapshot.titles:  # an episode watched: its series
                    top = await self.catalog.series_of(title_id) or title_id
                watched.add(top)
                if top in snapshot.titles and top not in seeds:
                    seeds.append(top)
            made = [
                await self.recommender.row(
                    seed,
                    snapshot,
                    maturity,
                    limit=self.config.row_size,
                    watched=frozenset(watched),
                )
                for seed in seeds[: self.config.because_rows]
            ]
        except Unavailable as exc:
            self.fallbacks.take("catalog", "no_rows", str(exc))
            degraded.add("catalog")
            return []
        return [r for r in made if r is not None]
