""" "Because you watched X": titles like one the profile watched, the popular ones first.

A candidate is a movie or series of the member's country that shares a genre with X (from the
country's precomputed titles) or a cast member (found by searching the catalog for each of X's
first-billed cast, then checked on the title's own page). Its similarity is the number of
shared genres plus twice the number of shared cast. Candidates are ranked by popularity (plays
in the country), then similarity, then catalog order (newest first); X itself and everything
the profile watched are left out.

One title's candidates depend only on the country and the maturity level, not on who asks, so
they are kept in the homepage cache (``because:<country>:<maturity>:<title>``, look-aside,
``because_ttl_s``); what a profile watched is taken out per request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError

from matinee.cache import Cache, CacheError
from matinee.services.homepage.lookups import CatalogLookup, TitleInfo
from matinee.services.homepage.rows import pick, row
from matinee.services.homepage.schemas import Card, Row, Snapshot

CAST_SEARCHED = 3  # first-billed cast members searched for
SEARCH_HITS = 10  # per cast member
CHECKED = 12  # search hits checked on their own page, at most
CONCURRENT = 4  # catalog calls in flight for one row


@dataclass(frozen=True)
class _Cast:
    cards: list[Card]
    cast: dict[str, frozenset[str]]


class Similar(BaseModel):
    """One title's ranked candidates as the cache keeps them."""

    seed_id: str
    seed_name: str
    items: list[Card]


def similarity(seed: TitleInfo, card: Card, cast: frozenset[str] = frozenset()) -> int:
    shared_genres = {g.slug for g in seed.card.genres} & {g.slug for g in card.genres}
    return len(shared_genres) + 2 * len(set(seed.cast) & cast)


def rank(
    seed: TitleInfo,
    candidates: Sequence[Card],
    cast: Mapping[str, frozenset[str]],
    plays: Mapping[str, int],
) -> list[Card]:
    """``candidates`` (in catalog order) that are like ``seed``: most played, then most
    similar, then in catalog order. ``cast`` holds the cast of the candidates checked."""
    scored: list[tuple[int, int, int, Card]] = []
    seen: set[str] = set()
    for order, card in enumerate(candidates):
        if card.id == seed.card.id or card.id in seen:
            continue
        seen.add(card.id)
        score = similarity(seed, card, cast.get(card.id, frozenset()))
        if score > 0:
            scored.append((-plays.get(card.id, 0), -score, order, card))
    scored.sort(key=lambda entry: entry[:3])
    return [entry[3] for entry in scored]


class Recommender:
    """Builds "because you watched" rows from the catalog and the country's snapshot."""

    def __init__(self, catalog: CatalogLookup, cache: Cache, *, ttl_s: float, keep: int) -> None:
        self.catalog = catalog
        self.cache = cache
        self.ttl_s = ttl_s
        self.keep = keep  # candidates kept per title: enough left after taking watched out

    async def row(
        self,
        seed_id: str,
        snapshot: Snapshot,
        maturity: int,
        *,
        limit: int,
        watched: frozenset[str],
    ) -> Row | None:
        """The row for ``seed_id``; None when it is not watchable here or has no like.
        Raises Unavailable when the catalog cannot answer."""
        key = f"because:{snapshot.country}:{maturity}:{seed_id}"

        async def load() -> bytes:
            similar = await self.similar(seed_id, snapshot, maturity)
            return similar.model_dump_json().encode()

        try:
            similar = Similar.model_validate_json(
                await self.cache.get_or_load(key, load, ttl=self.ttl_s)
            )
        except ValidationError:  # written by another version: compute it afresh
            similar = await self.similar(seed_id, snapshot, maturity)
            with contextlib.suppress(CacheError):  # counted and logged by the cache
                await self.cache.set(key, similar.model_dump_json().encode(), ttl=self.ttl_s)
        items = pick(similar.items, maturity, limit, watched | {seed_id})
        return row(
            f"because:{seed_id}",
            "because_you_watched",
            f"Because you watched {similar.seed_name}",
            items,
        )

    async def similar(self, seed_id: str, snapshot: Snapshot, maturity: int) -> Similar:
        seed = await self.catalog.title(seed_id, snapshot.country, maturity)
        if seed is None:
            return Similar(seed_id=seed_id, seed_name="", items=[])
        pool = list(snapshot.titles.values())  # catalog order
        cast = await self._cast_matches(seed, snapshot, maturity)
        pool.extend(card for card in cast.cards if card.id not in snapshot.titles)
        ranked = rank(seed, pool, cast.cast, snapshot.plays)
        return Similar(seed_id=seed_id, seed_name=seed.card.name, items=ranked[: self.keep])

    async def _cast_matches(self, seed: TitleInfo, snapshot: Snapshot, maturity: int) -> _Cast:
        """Titles that share cast with ``seed``, and their cast, checked on their pages."""
        names = seed.cast[:CAST_SEARCHED]
        if not names:
            return _Cast([], {})
        gate = asyncio.Semaphore(CONCURRENT)

        async def search(name: str) -> list[Card]:
            async with gate:
                return await self.catalog.search(
                    name, snapshot.country, maturity, limit=SEARCH_HITS
                )

        hits: dict[str, Card] = {}
        for found in await asyncio.gather(*(search(name) for name in names)):
            for card in found:
                if card.id != seed.card.id:
                    hits.setdefault(card.id, card)
        checked = list(hits.values())[:CHECKED]

        async def page(card: Card) -> TitleInfo | None:
            async with gate:
                return await self.catalog.title(card.id, snapshot.country, maturity)

        pages = await asyncio.gather(*(page(card) for card in checked))
        cast = {
            info.card.id: frozenset(info.cast)
            for info in pages
            if info is not None and set(info.cast) & set(seed.cast)
        }
        return _Cast([card for card in checked if card.id in cast], cast)
