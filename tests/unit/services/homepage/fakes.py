"""Fakes of the homepage's three lookups (catalog, history, identity), and a small catalog.

The catalog (all in the US unless said otherwise, newest first)::

    mandelbrot   movie  2024  maturity 0   documentary, science  cast Benoit Lumen
    life         movie  2023  maturity 7   drama, science        cast Ada Conway, John Grid
    midnight     movie  2025  maturity 16  thriller              cast Ada Conway
    signal       series 2025  maturity 0   comedy, documentary   (episodes signal-e1, signal-e2)
    le-jeu       movie  2022  maturity 7   drama                 FR only
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from matinee.gateway.auth import Identity
from matinee.services.homepage.lookups import Plays, Resume, TitleInfo, Unavailable
from matinee.services.homepage.schemas import Artwork, Card, Genre


def card(
    title_id: str,
    name: str,
    maturity: int,
    genres: tuple[str, ...] = (),
    *,
    kind: str = "movie",
    series_id: str | None = None,
) -> Card:
    return Card.model_validate(
        {
            "id": title_id,
            "kind": kind,
            "name": name,
            "maturity": maturity,
            "artwork": Artwork(poster=f"/media/assets/{title_id}/poster.jpg"),
            "genres": [Genre(slug=g.lower(), name=g) for g in genres],
            "series_id": series_id,
        }
    )


@dataclass
class Entry:
    card: Card
    countries: tuple[str, ...] = ("US",)
    cast: tuple[str, ...] = ()
    listed: bool = True  # movies and series are listed; episodes are not


def sample_catalog() -> dict[str, Entry]:
    entries = [
        Entry(card("midnight", "Midnight Zoom", 16, ("Thriller",)), cast=("Ada Conway",)),
        Entry(card("signal", "Signal Tests", 0, ("Comedy", "Documentary"), kind="series")),
        Entry(
            card("mandelbrot", "Mandelbrot", 0, ("Documentary", "Science")),
            cast=("Benoit Lumen",),
        ),
        Entry(
            card("life", "Game of Life", 7, ("Drama", "Science")),
            cast=("Ada Conway", "John Grid"),
        ),
        Entry(card("le-jeu", "Le Jeu", 7, ("Drama",)), countries=("FR",)),
        Entry(
            card("signal-e1", "Colour Bars", 0, kind="episode", series_id="signal"), listed=False
        ),
        Entry(card("signal-e2", "Test Card", 0, kind="episode", series_id="signal"), listed=False),
    ]
    return {e.card.id: e for e in entries}


@dataclass
class FakeCatalog:
    entries: dict[str, Entry] = field(default_factory=sample_catalog)
    down: bool = False
    calls: int = 0

    def _check(self) -> None:
        self.calls += 1
        if self.down:
            raise Unavailable("catalog", "the catalog service is not answering (599)")

    def _visible(self, entry: Entry, country: str, maturity: int | None) -> bool:
        rated = maturity is None or entry.card.maturity <= maturity
        return country in entry.countries and rated

    async def titles(
        self, country: str, maturity: int | None, *, limit: int, cursor: str | None = None
    ) -> tuple[list[Card], str | None]:
        self._check()
        await asyncio.sleep(0)  # a real call suspends: others may run meanwhile
        listed = [
            e.card
            for e in self.entries.values()
            if e.listed and self._visible(e, country, maturity)
        ]
        start = int(cursor or 0)
        end = start + limit
        return listed[start:end], (str(end) if end < len(listed) else None)

    async def title(self, title_id: str, country: str, maturity: int | None) -> TitleInfo | None:
        self._check()
        entry = self.entries.get(title_id)
        if entry is None or not self._visible(entry, country, maturity):
            return None
        return TitleInfo(entry.card, entry.cast)

    async def search(
        self, query: str, country: str, maturity: int | None, *, limit: int
    ) -> list[Card]:
        self._check()
        found = [
            e.card
            for e in self.entries.values()
            if e.listed and query in e.cast and self._visible(e, country, maturity)
        ]
        return found[:limit]

    async def series_of(self, title_id: str) -> str | None:
        self._check()
        entry = self.entries.get(title_id)
        return entry.card.series_id if entry is not None else None


@dataclass
class FakeHistory:
    continuing: dict[str, list[Resume]] = field(default_factory=dict)  # by profile
    recent: dict[str, list[str]] = field(default_factory=dict)
    plays: dict[str, list[Plays]] | None = None  # by country; None: no popularity endpoint
    down: bool = False

    def _check(self) -> None:
        if self.down:
            raise Unavailable("history", "the history service is not answering (599)")

    async def continue_watching(self, viewer: Identity, *, limit: int) -> list[Resume]:
        self._check()
        return self.continuing.get(viewer.profile or "", [])[:limit]

    async def recent_titles(self, viewer: Identity, *, limit: int) -> list[str]:
        self._check()
        return self.recent.get(viewer.profile or "", [])[:limit]

    async def popular(self, country: str, *, days: int, limit: int) -> list[Plays] | None:
        self._check()
        if self.plays is None:
            return None
        return self.plays.get(country, [])[:limit]


@dataclass
class FakeProfiles:
    levels: dict[str, int] = field(default_factory=dict)
    countries: dict[str, str] = field(default_factory=dict)
    down: bool = False

    async def maturity(self, profile_id: str) -> int | None:
        if self.down:
            raise Unavailable("identity", "the identity service is not answering (599)")
        return self.levels.get(profile_id)

    async def country(self, account_id: str) -> str | None:
        if self.down:
            raise Unavailable("identity", "the identity service is not answering (599)")
        return self.countries.get(account_id)
