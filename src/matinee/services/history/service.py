"""The viewing-history service's logic: record events, build continue-watching, read history.

Recording: the events of a request are checked against the service's clock (no more than
``future_s`` ahead, no more than ``late_s`` behind: the store's roll-up reads no further back),
then handed to the group-commit writer; the answer goes out only once they are durable.

Continue-watching: the latest state of each recently watched title (the store reads one summary
row and the live rows), newest first. A finished title (95 % watched, or finished explicitly)
is hidden; a finished episode is replaced by the series' next episode when the catalog names
one that the profile has not watched yet.
"""

from __future__ import annotations

import asyncio
import base64
import binascii

from matinee.clock import Clock
from matinee.history import HistoryStore, TitleState, ViewingEvent, day_of
from matinee.history.errors import InvalidCursor
from matinee.services.history.episodes import NextEpisodes
from matinee.services.history.errors import BookmarkNotFound, EventOutOfRange
from matinee.services.history.schemas import (
    BookmarkOut,
    ContinueWatchingItem,
    ContinueWatchingPage,
    HistoryItem,
    HistoryPageOut,
    PopularOut,
    PopularTitle,
    ViewingEventIn,
)
from matinee.services.history.writer import GroupCommitWriter
from matinee.telemetry.metrics import Registry

FUTURE_S = 600.0
LOOKUP_WINDOW = 16  # finished titles whose next episode is looked up at once


class HistoryService:
    """Viewing history for profiles, over a store and a group-commit writer."""

    def __init__(
        self,
        store: HistoryStore,
        writer: GroupCommitWriter,
        episodes: NextEpisodes,
        clock: Clock,
        metrics: Registry,
        *,
        future_s: float = FUTURE_S,
    ) -> None:
        self.store = store
        self.writer = writer
        self.episodes = episodes
        self.clock = clock
        self.future_s = future_s
        self.late_s = store.options.late_s
        self._accepted = metrics.counter("history.events.accepted")

    async def record(
        self, profile_id: str, events: list[ViewingEventIn], country: str | None = None
    ) -> int:
        """Store a request's events durably; returns how many. Each ``start`` counts a play of
        its title in ``country`` (the member's, from the signed identity) when it is known."""
        now = self.clock.time()
        rows: list[ViewingEvent] = []
        for i, e in enumerate(events):
            if e.client_ts > now + self.future_s:
                raise EventOutOfRange(
                    f"events.{i}.client_ts: more than {self.future_s:.0f} s in the future "
                    "by the service's clock; check the device's clock"
                )
            if e.client_ts < now - self.late_s:
                raise EventOutOfRange(
                    f"events.{i}.client_ts: older than {self.late_s:.0f} s; such late events "
                    "are not recorded"
                )
            rows.append(
                ViewingEvent(
                    profile_id,
                    e.event_id,
                    e.client_ts,
                    e.title_id,
                    e.kind,
                    e.position_s,
                    e.duration_s,
                    e.device,
                    e.rendition,
                    e.bitrate,
                    e.buffer_s,
                    e.rebuffers,
                    e.finished,
                    country=(country or "") if e.kind == "start" else "",
                )
            )
        await self.writer.submit(rows)
        self._accepted.inc(len(rows))
        return len(rows)

    async def popular(self, country: str, days: int, limit: int) -> PopularOut:
        """The most played titles in ``country`` over the last ``days`` UTC days (today
        included, by the service's clock)."""
        today = day_of(self.clock.time())
        counts = await self.store.popular(
            country, first_day=today - days + 1, last_day=today, limit=limit
        )
        return PopularOut(
            country=country,
            days=days,
            titles=[PopularTitle(title_id=c.title_id, plays=c.plays) for c in counts],
        )

    async def continue_watching(
        self, profile_id: str, *, limit: int = 20, cursor: str | None = None
    ) -> ContinueWatchingPage:
        offset = _offset(cursor) if cursor else 0
        wanted = offset + limit + 1  # one more tells whether a next page exists
        items = await self._items(profile_id, wanted)
        page = items[offset : offset + limit]
        more = len(items) > offset + limit
        return ContinueWatchingPage(
            items=page, next_cursor=_cursor(offset + limit) if more else None
        )

    async def _items(self, profile_id: str, wanted: int) -> list[ContinueWatchingItem]:
        """At least ``wanted`` items when there are that many: the store is asked for the
        newest ``wanted`` titles, and for twice as many again while finished titles without
        a next episode leave the row short."""
        fetch = wanted + 4
        while True:
            states = await self.store.latest_positions(profile_id, fetch)
            items = await self._items_of(states, wanted)
            if len(items) >= wanted or len(states) < fetch:
                return items
            fetch *= 2

    async def _items_of(self, states: list[TitleState], wanted: int) -> list[ContinueWatchingItem]:
        watched = {s.title_id for s in states}
        offered: set[str] = set()
        items: list[ContinueWatchingItem] = []
        for start in range(0, len(states), LOOKUP_WINDOW):
            if len(items) >= wanted:
                break
            window = states[start : start + LOOKUP_WINDOW]
            finished = [s.title_id for s in window if s.finished]
            nexts = dict(
                zip(
                    finished,
                    await asyncio.gather(*(self.episodes.next_episode(t) for t in finished)),
                    strict=True,
                )
            )
            for state in window:
                if not state.finished:
                    items.append(_resume(state))
                    continue
                nxt = nexts.get(state.title_id)
                if nxt and nxt not in watched and nxt not in offered:
                    offered.add(nxt)
                    items.append(_next_episode(nxt, state))
        return items

    async def history(
        self, profile_id: str, *, limit: int = 20, cursor: str | None = None
    ) -> HistoryPageOut:
        page = await self.store.history(profile_id, limit=limit, cursor=cursor)
        return HistoryPageOut(
            items=[
                HistoryItem(
                    event_id=e.event_id,
                    kind=e.kind,
                    title_id=e.title_id,
                    position_s=e.position_s,
                    duration_s=e.duration_s,
                    rendition=e.rendition,
                    bitrate=e.bitrate,
                    buffer_s=e.buffer_s,
                    rebuffers=e.rebuffers,
                    device=e.device,
                    client_ts=e.at,
                    finished=e.finished,
                )
                for e in page.items
            ],
            next_cursor=page.next_cursor,
        )

    async def bookmark(self, profile_id: str, title_id: str) -> BookmarkOut:
        state = await self.store.bookmark(profile_id, title_id)
        if state is None:
            raise BookmarkNotFound("This profile has not watched that title yet.")
        return BookmarkOut(
            title_id=state.title_id,
            position_s=state.position_s,
            duration_s=state.duration_s,
            finished=state.finished,
            watched_at=state.at,
        )


def _resume(state: TitleState) -> ContinueWatchingItem:
    progress = state.position_s / state.duration_s if state.duration_s > 0 else 0.0
    return ContinueWatchingItem(
        title_id=state.title_id,
        kind="resume",
        position_s=state.position_s,
        duration_s=state.duration_s,
        progress=min(progress, 1.0),
        watched_at=state.at,
    )


def _next_episode(title_id: str, finished: TitleState) -> ContinueWatchingItem:
    return ContinueWatchingItem(
        title_id=title_id,
        kind="next_episode",
        position_s=0.0,
        duration_s=None,
        progress=0.0,
        watched_at=finished.at,
        after_title_id=finished.title_id,
    )


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"cw:{offset}".encode()).rstrip(b"=").decode()


def _offset(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error) as exc:
        raise InvalidCursor("cursor: this is not a cursor a previous page returned") from exc
    prefix, _, number = text.partition(":")
    if prefix != "cw" or not number.isdigit():
        raise InvalidCursor("cursor: this is not a cursor a previous page returned")
    return int(number)
