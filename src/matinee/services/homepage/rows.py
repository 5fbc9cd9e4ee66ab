"""Building rows: pure functions over cards, the country's precomputed snapshot and a profile's
maturity level.

Every row shows only titles rated at or under the profile's maturity level; the snapshot and
every catalog answer are already limited to the member's country. A row with no titles left
is not shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from matinee.services.homepage.lookups import Plays
from matinee.services.homepage.schemas import Card, GenreIds, Row, RowKind, Snapshot

NEW_TITLE = "New on matinee"


def allowed(card: Card, maturity: int) -> bool:
    return card.maturity <= maturity


def pick(
    cards: Iterable[Card], maturity: int, limit: int, exclude: frozenset[str] = frozenset()
) -> list[Card]:
    """Up to ``limit`` cards the profile may see, in order, each once, none of ``exclude``."""
    chosen: list[Card] = []
    seen = set(exclude)
    for card in cards:
        if len(chosen) >= limit:
            break
        if card.id in seen or not allowed(card, maturity):
            continue
        seen.add(card.id)
        chosen.append(card)
    return chosen


def of_ids(snapshot: Snapshot, ids: Iterable[str]) -> Iterable[Card]:
    return (snapshot.titles[i] for i in ids if i in snapshot.titles)


def row(row_id: str, kind: RowKind, title: str, items: list[Card]) -> Row | None:
    return Row(id=row_id, kind=kind, title=title, items=items) if items else None


def new_row(cards: Iterable[Card], maturity: int, limit: int) -> Row | None:
    return row("new", "new", NEW_TITLE, pick(cards, maturity, limit))


def popular_row(snapshot: Snapshot, maturity: int, limit: int) -> Row | None:
    items = pick(of_ids(snapshot, snapshot.popular), maturity, limit)
    return row("popular", "popular", f"Popular in {snapshot.country}", items)


def genre_rows(snapshot: Snapshot, maturity: int, limit: int) -> list[Row]:
    """One row per genre that has a title for the profile; the most played genres first."""
    built: list[tuple[int, str, Row]] = []
    for genre in snapshot.genres:
        items = pick(of_ids(snapshot, genre.ids), maturity, limit)
        made = row(f"genre:{genre.slug}", "genre", genre.name, items)
        if made is not None:
            plays = sum(snapshot.plays.get(card.id, 0) for card in items)
            built.append((-plays, genre.name.casefold(), made))
    built.sort(key=lambda entry: (entry[0], entry[1]))
    return [entry[2] for entry in built]


def assemble(
    continue_watching: Row | None,
    because: Sequence[Row],
    new: Row | None,
    popular: Row | None,
    genres: Sequence[Row],
) -> list[Row]:
    """The page's rows in the order they are shown."""
    first = [r for r in (continue_watching, *because, new, popular) if r is not None]
    return [*first, *genres]


# --- the snapshot --------------------------------------------------------------------------


def rank_popular(cards: Sequence[Card], plays: Mapping[str, int]) -> list[str]:
    """Ids of ``cards`` (in catalog order), the most played first; unplayed ones keep their
    catalog order after them."""
    order = {card.id: i for i, card in enumerate(cards)}
    return sorted(order, key=lambda tid: (-plays.get(tid, 0), order[tid]))


def plays_by_title(
    ranking: Iterable[Plays], series_of: Mapping[str, str | None], known: Iterable[str]
) -> dict[str, int]:
    """Plays per movie or series: an episode's plays count for its series (``series_of``)."""
    shown = set(known)
    totals: dict[str, int] = {}
    for entry in ranking:
        title = entry.title_id if entry.title_id in shown else series_of.get(entry.title_id)
        if title is not None and title in shown and entry.plays > 0:
            totals[title] = totals.get(title, 0) + entry.plays
    return totals


def genres_of(cards: Sequence[Card], ranked: Sequence[str]) -> list[GenreIds]:
    """For every genre among ``cards``, its titles in ``ranked`` order; by genre name."""
    names: dict[str, str] = {}
    genres_of_card: dict[str, list[str]] = {}
    for card in cards:
        genres_of_card[card.id] = [g.slug for g in card.genres]
        names.update((g.slug, g.name) for g in card.genres)
    by_genre: dict[str, list[str]] = {}
    for tid in ranked:
        for slug in genres_of_card.get(tid, []):
            by_genre.setdefault(slug, []).append(tid)
    ordered = sorted(by_genre, key=lambda slug: names[slug].casefold())
    return [GenreIds(slug=slug, name=names[slug], ids=by_genre[slug]) for slug in ordered]


def snapshot_of(
    country: str,
    computed_at: float,
    cards: Sequence[Card],
    plays: Mapping[str, int] | None,
) -> Snapshot:
    """A country's rows from its titles (newest first) and their plays (None: no popularity
    known, so popular is catalog order)."""
    counted = dict(plays or {})
    ranked = rank_popular(cards, counted)
    return Snapshot(
        country=country,
        computed_at=computed_at,
        titles={card.id: card for card in cards},
        new=[card.id for card in cards],
        popular=ranked,
        plays=counted,
        popularity="catalog" if plays is None else "history",
        genres=genres_of(cards, ranked),
    )
