"""Persistence of titles: loading with their parts, visible-title listings, genres and people.

Every function takes the caller's session, so one service call is one transaction. Listings
are keyset-paginated: ``after`` is the sort key of the last item of the previous page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import and_, exists, or_, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.elements import ColumnElement

from matinee.services.catalog.errors import InvalidCursor, TitleNotFound
from matinee.services.catalog.models import (
    Availability,
    Credit,
    Genre,
    Person,
    Title,
    TitleGenre,
)
from matinee.services.catalog.pagination import Key

Sort = Literal["newest", "name"]
TOP_LEVEL = ("movie", "series")

FULL = (
    selectinload(Title.genres),
    selectinload(Title.credits),
    selectinload(Title.availability),
)


R = TypeVar("R", Genre, Person)


@dataclass(frozen=True)
class CastEntry:
    """One credit to write: who, in which role, playing whom."""

    name: str
    role: str
    character: str | None


@dataclass(frozen=True)
class Audience:
    """Who is looking: where, when, and the highest maturity rating they may see."""

    country: str
    now: datetime
    maturity_max: int | None = None


def available_in(country: str, now: datetime) -> ColumnElement[bool]:
    """True where the title has a window open in ``country`` at ``now``."""
    return exists().where(
        Availability.title_id == Title.id,
        Availability.country == country,
        Availability.starts_at <= now,
        or_(Availability.ends_at.is_(None), Availability.ends_at > now),
    )


def visible_to(audience: Audience) -> list[ColumnElement[bool]]:
    """Conditions on a top-level title (movie, series) the audience may see."""
    conditions = [
        Title.kind.in_(TOP_LEVEL),
        Title.published.is_(True),
        available_in(audience.country, audience.now),
    ]
    if audience.maturity_max is not None:
        conditions.append(Title.maturity <= audience.maturity_max)
    return conditions


async def get_title(session: AsyncSession, title_id: str, *, full: bool = True) -> Title:
    """The title with its genres, credits and availability (TitleNotFound when unknown)."""
    options = FULL if full else (selectinload(Title.availability),)
    title = await session.get(Title, title_id, options=options)
    if title is None:
        raise TitleNotFound("There is no title with this id.")
    return title


def after_key(sort: Sort, after: Key) -> ColumnElement[bool]:
    """Rows after the key ``after`` in ``sort`` order."""
    try:
        if sort == "name":
            name, title_id = str(after[0]), str(after[1])
            return or_(Title.sort_name > name, and_(Title.sort_name == name, Title.id > title_id))
        year, name, title_id = int(after[0]), str(after[1]), str(after[2])
    except (IndexError, ValueError) as exc:
        raise InvalidCursor("cursor: this cursor does not fit this list.") from exc
    return or_(
        Title.release_year < year,
        and_(
            Title.release_year == year,
            or_(Title.sort_name > name, and_(Title.sort_name == name, Title.id > title_id)),
        ),
    )


def sort_key(sort: Sort, title: Title) -> Key:
    if sort == "name":
        return [title.sort_name, title.id]
    return [title.release_year, title.sort_name, title.id]


def _order(sort: Sort) -> list[ColumnElement[Any]]:
    if sort == "name":
        return [Title.sort_name.asc(), Title.id.asc()]
    return [Title.release_year.desc(), Title.sort_name.asc(), Title.id.asc()]


async def list_titles(
    session: AsyncSession,
    conditions: Sequence[ColumnElement[bool]],
    *,
    sort: Sort,
    after: Key | None,
    limit: int,
    full: bool = False,
) -> Sequence[Title]:
    """Up to ``limit + 1`` titles meeting ``conditions`` in ``sort`` order, after ``after``,
    with their genres (``full``: credits and availability too)."""
    options = FULL if full else (selectinload(Title.genres),)
    stmt = select(Title).where(*conditions).options(*options)
    if after is not None:
        stmt = stmt.where(after_key(sort, after))
    rows = await session.scalars(stmt.order_by(*_order(sort)).limit(limit + 1))
    return rows.all()


def filters(
    *, kind: str | None = None, genre: str | None = None, year: int | None = None
) -> list[ColumnElement[bool]]:
    """Listing filters: kind, genre slug, release year."""
    conditions: list[ColumnElement[bool]] = []
    if kind is not None:
        conditions.append(Title.kind == kind)
    if genre is not None:
        conditions.append(
            exists().where(
                TitleGenre.title_id == Title.id,
                TitleGenre.genre_id == Genre.id,
                Genre.slug == genre,
            )
        )
    if year is not None:
        conditions.append(Title.release_year == year)
    return conditions


async def episodes_of(session: AsyncSession, series_id: str) -> Sequence[Title]:
    """Every episode of a series in season order, with its availability."""
    stmt = (
        select(Title)
        .where(Title.series_id == series_id, Title.kind == "episode")
        .options(selectinload(Title.availability))
        .order_by(Title.season, Title.episode)
    )
    return (await session.scalars(stmt)).all()


async def next_episode_id(session: AsyncSession, episode: Title) -> str | None:
    """The published episode after ``episode`` in season order (into the next season)."""
    if episode.series_id is None or episode.season is None or episode.episode is None:
        return None
    stmt = (
        select(Title.id)
        .where(
            Title.series_id == episode.series_id,
            Title.kind == "episode",
            Title.published.is_(True),
            tuple_(Title.season, Title.episode) > tuple_(episode.season, episode.episode),
        )
        .order_by(Title.season, Title.episode)
        .limit(1)
    )
    return await session.scalar(stmt)


async def episode_exists(session: AsyncSession, series_id: str, season: int, number: int) -> bool:
    stmt = select(Title.id).where(
        Title.series_id == series_id, Title.season == season, Title.episode == number
    )
    return (await session.scalar(stmt)) is not None


async def genres_named(session: AsyncSession, names: Iterable[tuple[str, str]]) -> list[Genre]:
    """The genres with these (slug, name) pairs, created when missing, in the given order."""
    genres: list[Genre] = []
    for slug, name in names:
        genre = await session.scalar(select(Genre).where(Genre.slug == slug))
        if genre is None:
            genre = await _insert_or_get(session, Genre(slug=slug, name=name), Genre.slug == slug)
        genres.append(genre)
    return genres


async def people_named(session: AsyncSession, names: Iterable[str]) -> dict[str, Person]:
    """The people with these names, created when missing."""
    people: dict[str, Person] = {}
    for name in dict.fromkeys(names):
        person = await session.scalar(select(Person).where(Person.name == name))
        if person is None:
            person = await _insert_or_get(session, Person(name=name), Person.name == name)
        people[name] = person
    return people


async def _insert_or_get(session: AsyncSession, row: R, match: ColumnElement[bool]) -> R:
    """Insert ``row``; when a concurrent writer inserted the same one first, return theirs."""
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        existing = await session.scalar(select(type(row)).where(match))
        if existing is None:
            raise
        return existing
    return row


async def genres_page(session: AsyncSession, after: str | None, limit: int) -> Sequence[Genre]:
    stmt = select(Genre).order_by(Genre.slug).limit(limit + 1)
    if after is not None:
        stmt = stmt.where(Genre.slug > after)
    return (await session.scalars(stmt)).all()


def set_credits(title: Title, people: dict[str, Person], cast: Sequence[CastEntry]) -> None:
    """Replace the title's credits (its ``credits`` must be loaded)."""
    title.credits = [
        Credit(person=people[c.name], role=c.role, character=c.character, position=i)
        for i, c in enumerate(cast)
    ]
