"""The catalog's logic: what admins change, what viewers see, what other services ask.

:class:`CatalogService` needs only a :class:`~matinee.db.aio.Database` and a clock, so the seed
command can call it directly (``await service.create_title(TitleCreate(...))``). Every method
is one transaction. New movies and series start unpublished and with no availability windows;
an episode is published on creation and shows once its series is published.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from matinee.clock import Clock
from matinee.db.aio import Database
from matinee.services.catalog import store, views
from matinee.services.catalog.assets import AssetInfo
from matinee.services.catalog.errors import (
    DuplicateEpisode,
    InvalidCursor,
    InvalidTitle,
    TitleNotFound,
)
from matinee.services.catalog.models import Availability, SearchDoc, Title
from matinee.services.catalog.pagination import decode_cursor, encode_cursor, page_of, query_kind
from matinee.services.catalog.schemas import (
    AdminTitle,
    AdminTitlePage,
    CreditIn,
    EpisodeCreate,
    GenreOut,
    GenrePage,
    InternalTitle,
    SearchPage,
    TitleCreate,
    TitleDetail,
    TitlePage,
    TitleUpdate,
    WindowIn,
)
from matinee.services.catalog.schemas import Availability as AvailabilityAnswer
from matinee.services.catalog.search import SearchIndex, ranking
from matinee.services.catalog.store import Audience, Sort
from matinee.services.catalog.vocabulary import tokens
from matinee.telemetry.metrics import Registry

MAX_SEARCH_OFFSET = 1000  # deeper than this, a viewer should refine the query


@dataclass(frozen=True)
class CatalogConfig:
    """``default_country``: where an anonymous caller who names no country is taken to be."""

    default_country: str = "US"


def _slug(name: str) -> str:
    slug = "-".join(tokens(name))[:64]
    if not slug:
        raise InvalidTitle(f"genres: {name!r} has no letters or digits to name a genre by.")
    return slug


class CatalogService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        config: CatalogConfig | None = None,
        *,
        metrics: Registry | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.config = config or CatalogConfig()
        self.index = SearchIndex(db.dialect)
        self._corrected = metrics.counter("catalog.search.corrected") if metrics else None

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.time(), UTC)

    def audience(self, country: str | None, maturity_max: int | None = None) -> Audience:
        return Audience(country or self.config.default_country, self.now(), maturity_max)

    # --- admin: writes ------------------------------------------------------------------

    async def create_title(self, body: TitleCreate) -> AdminTitle:
        """A new movie or series, unpublished, with no availability yet."""
        now = self.now()
        async with self.db.write() as s:
            title = Title(
                id=str(uuid.uuid4()),
                kind=body.kind,
                published=False,
                created_at=now,
                availability=[],
                genres=[],
                credits=[],
            )
            self._set_text(title, body.name, body.synopsis)
            title.maturity, title.release_year = body.maturity, body.release_year
            title.runtime_s, title.updated_at = body.runtime_s, now
            s.add(title)
            await self._set_genres(s, title, body.genres)
            await self._set_cast(s, title, body.cast)
            await s.flush()
            await self._reindex(s, title)
            return views.admin(title, [] if title.kind == "series" else None)

    async def add_episode(self, series_id: str, body: EpisodeCreate) -> AdminTitle:
        now = self.now()
        async with self.db.write() as s:
            series = await store.get_title(s, series_id, full=False)
            if series.kind != "series":
                raise InvalidTitle(f"Episodes belong to a series; this title is a {series.kind}.")
            if await store.episode_exists(s, series_id, body.season, body.episode):
                raise DuplicateEpisode(
                    f"The series already has season {body.season} episode {body.episode}."
                )
            title = Title(
                id=str(uuid.uuid4()),
                kind="episode",
                series_id=series_id,
                season=body.season,
                episode=body.episode,
                maturity=series.maturity if body.maturity is None else body.maturity,
                release_year=body.release_year or series.release_year,
                runtime_s=body.runtime_s,
                published=body.published,
                created_at=now,
                updated_at=now,
                availability=[],
                genres=[],
                credits=[],
            )
            self._set_text(title, body.name, body.synopsis)
            s.add(title)
            await self._set_cast(s, title, body.cast)
            await self._flush_episode(s, title)
            return views.admin(title)

    async def update_title(self, title_id: str, body: TitleUpdate) -> AdminTitle:
        """Change the fields given; ``genres`` and ``cast`` replace their lists."""
        changes = body.model_dump(exclude_unset=True)
        async with self.db.write() as s:
            title = await store.get_title(s, title_id)
            if title.kind != "episode" and ({"season", "episode"} & changes.keys()):
                raise InvalidTitle("season, episode: only an episode has a season and number.")
            if title.kind == "episode" and body.genres is not None:
                raise InvalidTitle("genres: an episode takes its genres from its series.")
            if body.name is not None or body.synopsis is not None:
                self._set_text(title, body.name or title.name, _or(body.synopsis, title.synopsis))
            for field in ("maturity", "release_year", "runtime_s", "season", "episode"):
                if field in changes and (changes[field] is not None or field == "runtime_s"):
                    setattr(title, field, changes[field])
            if body.genres is not None:
                await self._set_genres(s, title, body.genres)
            if body.cast is not None:
                await self._set_cast(s, title, body.cast)
            title.updated_at = self.now()
            await self._flush_episode(s, title)
            await self._reindex(s, title)
            return views.admin(title, await self._episodes(s, title))

    async def set_availability(self, title_id: str, windows: list[WindowIn]) -> AdminTitle:
        """Replace every availability window of a title."""
        async with self.db.write() as s:
            title = await store.get_title(s, title_id)
            title.availability = [
                Availability(country=w.country, starts_at=w.starts_at, ends_at=w.ends_at)
                for w in windows
            ]
            title.updated_at = self.now()
            await s.flush()
            return views.admin(title, await self._episodes(s, title))

    async def set_published(self, title_id: str, published: bool) -> AdminTitle:
        async with self.db.write() as s:
            title = await store.get_title(s, title_id)
            title.published = published
            title.updated_at = self.now()
            await s.flush()
            return views.admin(title, await self._episodes(s, title))

    async def link_asset(self, title_id: str, asset: AssetInfo) -> AdminTitle:
        """Take artwork, duration and height from a packaged asset (see ``assets.py``)."""
        async with self.db.write() as s:
            title = await store.get_title(s, title_id)
            title.asset_id = asset.asset_id
            title.poster_key, title.trickplay_key = asset.poster_key, asset.trickplay_key
            title.asset_duration_s, title.asset_max_height = asset.duration_s, asset.max_height
            title.updated_at = self.now()
            await s.flush()
            return views.admin(title, await self._episodes(s, title))

    # --- admin: reads -------------------------------------------------------------------

    async def admin_title(self, title_id: str) -> AdminTitle:
        async with self.db.read() as s:
            title = await store.get_title(s, title_id)
            return views.admin(title, await self._episodes(s, title))

    async def admin_titles(
        self, *, kind: str | None, sort: Sort, cursor: str | None, limit: int
    ) -> AdminTitlePage:
        """Every title, published or not (episodes only when asked for by ``kind``)."""
        list_kind = f"admin:{sort}"
        after = decode_cursor(cursor, list_kind) if cursor else None
        conditions = store.filters(kind=kind)
        if kind is None:
            conditions.append(Title.kind.in_(store.TOP_LEVEL))
        async with self.db.read() as s:
            rows = await store.list_titles(
                s, conditions, sort=sort, after=after, limit=limit, full=True
            )
        page = page_of(rows, limit, list_kind, lambda t: store.sort_key(sort, t))
        return AdminTitlePage(
            items=[views.admin(t) for t in page.items], next_cursor=page.next_cursor
        )

    # --- public reads ---------------------------------------------------------------------

    async def titles(
        self,
        audience: Audience,
        *,
        kind: str | None = None,
        genre: str | None = None,
        year: int | None = None,
        sort: Sort = "newest",
        cursor: str | None = None,
        limit: int = 20,
    ) -> TitlePage:
        """Movies and series the audience may watch now, filtered and sorted."""
        list_kind = f"titles:{sort}"
        after = decode_cursor(cursor, list_kind) if cursor else None
        conditions = [
            *store.visible_to(audience),
            *store.filters(kind=kind, genre=genre, year=year),
        ]
        async with self.db.read() as s:
            rows = await store.list_titles(s, conditions, sort=sort, after=after, limit=limit)
        page = page_of(rows, limit, list_kind, lambda t: store.sort_key(sort, t))
        return TitlePage(items=[views.summary(t) for t in page.items], next_cursor=page.next_cursor)

    async def title(self, audience: Audience, title_id: str) -> TitleDetail:
        """A title's page if the audience may watch it now; a series lists the episodes they
        may watch, by season."""
        async with self.db.read() as s:
            try:
                title = await store.get_title(s, title_id)
            except TitleNotFound:
                raise TitleNotFound("There is no title with this id here.") from None
            series = await self._series_of(s, title)
            if not self._shows(audience, title, series):
                raise TitleNotFound("There is no title with this id here.")
            episodes = None
            if title.kind == "series":
                episodes = [
                    e
                    for e in await store.episodes_of(s, title.id)
                    if self._shows(audience, e, title)
                ]
            return views.detail(title, episodes)

    async def genres(self, cursor: str | None, limit: int) -> GenrePage:
        after = decode_cursor(cursor, "genres") if cursor else None
        async with self.db.read() as s:
            rows = await store.genres_page(s, str(after[0]) if after else None, limit)
        page = page_of(rows, limit, "genres", lambda g: [g.slug])
        items = [GenreOut(slug=g.slug, name=g.name) for g in page.items]
        return GenrePage(items=items, next_cursor=page.next_cursor)

    async def search(
        self, audience: Audience, q: str, *, cursor: str | None = None, limit: int = 20
    ) -> SearchPage:
        """Movies and series matching ``q`` (typos forgiven, words as prefixes), best first."""
        async with self.db.read() as s:
            query = await self.index.parse(s, q)
            if query.empty:
                return SearchPage(items=[], next_cursor=None, matched=[])
            if self._corrected is not None and any(c.corrected for c in query.corrections):
                self._corrected.inc()
            list_kind = query_kind(
                "search",
                [c.term for c in query.corrections],
                audience.country,
                audience.maturity_max,
            )
            offset = _offset(decode_cursor(cursor, list_kind)) if cursor else 0
            hits, higher_is_better = await self.index.hits(s, query)
            stmt = (
                select(Title)
                .join(SearchDoc, SearchDoc.title_id == Title.id)
                .join(hits, hits.c.doc_id == SearchDoc.id)
                .where(*store.visible_to(audience))
                .options(selectinload(Title.genres))
                .order_by(*ranking(hits, higher_is_better))
                .offset(min(offset, MAX_SEARCH_OFFSET))
                .limit(limit + 1)
            )
            rows = (await s.scalars(stmt)).all()
        end = offset + limit
        more = len(rows) > limit and end < MAX_SEARCH_OFFSET
        return SearchPage(
            items=[views.summary(t) for t in rows[:limit]],
            next_cursor=encode_cursor(list_kind, [end]) if more else None,
            matched=[list(g) for g in query.groups],
        )

    # --- internal (other services) ----------------------------------------------------------

    async def internal_title(self, title_id: str) -> InternalTitle:
        async with self.db.read() as s:
            title = await store.get_title(s, title_id, full=False)
            series = await self._series_of(s, title)
            following = await store.next_episode_id(s, title) if series else None
            return views.internal(title, views.effective(title, series), following)

    async def availability(self, title_id: str, country: str, at: datetime) -> AvailabilityAnswer:
        async with self.db.read() as s:
            title = await store.get_title(s, title_id, full=False)
            series = await self._series_of(s, title)
            reason = views.effective(title, series).reason(country, at)
            return AvailabilityAnswer(available=reason is None, reason=reason)

    # --- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _shows(audience: Audience, title: Title, series: Title | None) -> bool:
        if audience.maturity_max is not None and title.maturity > audience.maturity_max:
            return False
        return views.effective(title, series).reason(audience.country, audience.now) is None

    @staticmethod
    async def _series_of(s: AsyncSession, title: Title) -> Title | None:
        if title.kind != "episode" or title.series_id is None:
            return None
        return await store.get_title(s, title.series_id, full=False)

    @staticmethod
    async def _episodes(s: AsyncSession, title: Title) -> list[Title] | None:
        if title.kind != "series":
            return None
        return list(await store.episodes_of(s, title.id))

    @staticmethod
    def _set_text(title: Title, name: str, synopsis: str) -> None:
        title.name, title.sort_name, title.synopsis = name, name.casefold()[:300], synopsis

    @staticmethod
    async def _set_genres(s: AsyncSession, title: Title, names: list[str]) -> None:
        pairs: dict[str, str] = {}
        for name in names:
            pairs.setdefault(_slug(name), name.strip())
        title.genres = await store.genres_named(s, pairs.items())

    @staticmethod
    async def _set_cast(s: AsyncSession, title: Title, cast: list[CreditIn]) -> None:
        entries = [store.CastEntry(c.name.strip(), c.role, c.character) for c in cast]
        people = await store.people_named(s, [e.name for e in entries])
        store.set_credits(title, people, entries)

    async def _reindex(self, s: AsyncSession, title: Title) -> None:
        if title.kind == "episode":
            return
        people = [c.person.name for c in title.credits]
        characters = [c.character for c in title.credits if c.character]
        await self.index.reindex(s, title, [g.name for g in title.genres], people + characters)

    @staticmethod
    async def _flush_episode(s: AsyncSession, title: Title) -> None:
        message = f"The series already has season {title.season} episode {title.episode}."
        try:
            await s.flush()
        except IntegrityError as exc:  # a failed flush expires the title: message made before
            raise DuplicateEpisode(message) from exc


def _offset(after: list[str | int]) -> int:
    if len(after) != 1 or not isinstance(after[0], int) or after[0] < 0:
        raise InvalidCursor("cursor: this cursor does not fit this list.")
    return after[0]


def _or(value: str | None, default: str) -> str:
    return default if value is None else value
