"""Look-aside caching of the catalog's public reads (the EVCache look-aside use).

``GET /api/catalog/titles/{id}`` and ``GET /api/catalog/titles`` answer from
``ctx.cache("catalog")`` when they can: the response body is kept under a key made of what
decides it (country, maturity, the query), ``title_ttl_s`` for a title's page and
``list_ttl_s`` for a list. Errors (unknown title, bad cursor) are never cached.

* Maturity is keyed by rating bucket: ``maturity_max=12`` shows exactly what ``7`` shows (titles
  are rated 0, 7, 13, 16 or 18), and 18 or more shows everything.
* A title's pages carry its *generation*, a random token kept in ``ctx.cache("catalog.gen")``
  (no TTL): ``title:<id>:<generation>:<country>:<maturity>``. An admin write deletes the
  generations of the titles it changed, once committed: the title, its series (an episode
  shows on the series' page) and its episodes (they follow the series' publishing and
  windows). Every page of those titles, in every country, is then unreachable and expires on
  its own; a reader that finds no generation makes a new one with ``add``. A reader reads the
  generation *before* the database, so a page built from data read before a write is stored
  under the generation that write deleted, and is never served.
* Lists are not invalidated: they expire after ``list_ttl_s`` (a newly published title shows
  in lists within that time).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable

from pydantic import BaseModel

from matinee.cache import Cache, CacheError
from matinee.services.catalog import store
from matinee.services.catalog.errors import TitleNotFound
from matinee.services.catalog.service import CatalogService
from matinee.services.catalog.store import Audience

log = logging.getLogger(__name__)

TITLE_TTL_S = 60.0
LIST_TTL_S = 10.0
RATINGS = (0, 7, 13, 16)  # the ratings below the highest
HIGHEST = 18  # a limit at the highest rating or above is no limit


def maturity_bucket(maturity_max: int | None) -> int | None:
    """The highest rating at or under ``maturity_max``; None (no limit) from 18 up."""
    if maturity_max is None or maturity_max >= HIGHEST:
        return None
    return max((r for r in RATINGS if r <= maturity_max), default=0)


class PageCache:
    """The catalog's public reads through the cache; ``forget`` after an admin write."""

    def __init__(
        self,
        pages: Cache,
        generations: Cache,
        service: CatalogService,
        *,
        title_ttl_s: float = TITLE_TTL_S,
        list_ttl_s: float = LIST_TTL_S,
    ) -> None:
        self.pages = pages
        self.generations = generations
        self.service = service
        self.title_ttl_s = title_ttl_s
        self.list_ttl_s = list_ttl_s
        self._logged = False

    def audience(self, country: str | None, maturity_max: int | None) -> Audience:
        """The service's audience, its maturity limit rounded down to a rating."""
        return self.service.audience(country, maturity_bucket(maturity_max))

    async def title(self, viewer: Audience, title_id: str) -> bytes:
        """A title's page (JSON) as ``viewer`` sees it."""

        async def load() -> BaseModel:
            return await self.service.title(viewer, title_id)

        generation = await self._generation(title_id)
        if generation is None:
            return (await load()).model_dump_json().encode()
        key = f"title:{title_id}:{generation}:{_audience_key(viewer)}"
        return await self._read(key, load, self.title_ttl_s)

    async def titles(
        self, viewer: Audience, load: Callable[[], Awaitable[BaseModel]], **query: object
    ) -> bytes:
        """A list page (JSON) as ``viewer`` sees it; ``query`` is every other parameter."""
        digest = hashlib.sha256(
            json.dumps(query, sort_keys=True, default=str).encode()
        ).hexdigest()[:32]
        return await self._read(f"titles:{_audience_key(viewer)}:{digest}", load, self.list_ttl_s)

    async def forget(self, title_id: str) -> None:
        """Make every cached page of ``title_id`` and the titles it shows on or with
        unreachable (call once the write committed)."""
        related = await self._related(title_id)
        for tid in related:
            try:
                await self.generations.delete(f"title:{tid}")
            except CacheError as exc:
                self._log(exc)

    async def _related(self, title_id: str) -> list[str]:
        """The title, its series (for an episode) and its episodes (for a series)."""
        async with self.service.db.read() as s:
            try:
                title = await store.get_title(s, title_id, full=False)
            except TitleNotFound:
                return [title_id]
            ids = [title.id]
            if title.series_id is not None:
                ids.append(title.series_id)
            if title.kind == "series":
                ids.extend(e.id for e in await store.episodes_of(s, title.id))
        return ids

    async def _generation(self, title_id: str) -> str | None:
        """The title's current generation (made when there is none); None without a cache."""
        key = f"title:{title_id}"
        try:
            found = await self.generations.get(key)
            if found is None:
                fresh = secrets.token_hex(8).encode()
                if await self.generations.add(key, fresh, ttl=None):
                    return fresh.decode()
                found = await self.generations.get(key)
        except CacheError as exc:
            self._log(exc)
            return None
        return None if found is None else found.decode()

    async def _read(self, key: str, load: Callable[[], Awaitable[BaseModel]], ttl: float) -> bytes:
        async def loader() -> bytes:
            return (await load()).model_dump_json().encode()

        return await self.pages.get_or_load(key, loader, ttl=ttl)

    def _log(self, exc: CacheError) -> None:
        if not self._logged:
            self._logged = True
            log.warning("the catalog's page cache failed (%s); reading the database", exc)


def _audience_key(viewer: Audience) -> str:
    maturity = "all" if viewer.maturity_max is None else str(viewer.maturity_max)
    return f"{viewer.country}:{maturity}"
