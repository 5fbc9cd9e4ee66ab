"""The history store interface, and the reads every backend shares.

:class:`HistoryStore` is what the viewing-history service uses::

    store = open_history_store(settings.resolved_history_url)
    await store.open()                      # creates its schema if needed
    await store.append(events)              # durable when it returns; a retry is harmless
    await store.latest_positions(profile)   # continue-watching inputs, newest first
    await store.bookmark(profile, title)    # resume position
    await store.history(profile, limit=20, cursor=None)  # full history, newest first, paged
    await store.roll_up(older_than=now - age)            # LiveVH -> CompressedVH
    await store.popular("US", first_day=d - 6, last_day=d, limit=200)  # plays per title
    await store.close()

Backends provide a handful of primitive reads (below); the merging of the live rows with the
compressed layer is written once, here and in ``merge.py``.

Every read of live rows is bounded below by the profile's ``rolled_through`` (the cutoff of its
last roll-up). Rows below it were compacted and deleted; on Cassandra their data still sits in
SSTables under a range tombstone until compaction, and an unbounded slice would read through it
all - the bound is what keeps a heavy profile's reads as cheap as a light one's. An event that
arrives later than its profile's last roll-up therefore shows up after the next one (within
``rollup_period_s``), and one more than ``late_s`` older than it is never read: the service
refuses such events.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Sequence
from types import TracebackType

from matinee.history.codec import decode_chunk, decode_cursor, encode_cursor
from matinee.history.merge import (
    StoredChunk,
    latest_state,
    latest_states,
    newest_first,
    page_is_complete,
)
from matinee.history.model import (
    HistoryPage,
    Key,
    PlayCount,
    ReadStats,
    RollupReport,
    TitleState,
    ViewingEvent,
)
from matinee.history.options import HistoryOptions

MAX_PAGE = 100
CHUNKS_PER_READ = 2


class HistoryStore(abc.ABC):
    """Viewing history: live rows for recent events, compressed chunks and summaries for the
    rest (Netflix's LiveVH and CompressedVH), one interface over SQLite and Cassandra."""

    backend: str = ""

    def __init__(self, options: HistoryOptions | None = None) -> None:
        self.options = options or HistoryOptions()
        self.stats = ReadStats()

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and create the schema if it is not there (idempotent)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections and threads."""

    @abc.abstractmethod
    async def append(self, events: Sequence[ViewingEvent]) -> None:
        """Store ``events`` durably (they survive a crash once this returns). Appending an event
        again (same profile, event id and timestamp) changes nothing in the history.

        A ``start`` with a country also counts one play of its title in that country on the
        event's UTC day (``popular`` reads the counts). SQLite counts a retried start once; on
        Cassandra counters are not idempotent, so a retried batch may count its starts again
        (popularity tolerates that: one retry among many plays)."""

    @abc.abstractmethod
    async def popular(
        self, country: str, *, first_day: int, last_day: int, limit: int
    ) -> list[PlayCount]:
        """The ``limit`` titles with the most plays started in ``country`` from UTC day
        ``first_day`` to ``last_day`` (inclusive, ``model.day_of``), most played first (ties
        by title id)."""

    @abc.abstractmethod
    async def roll_up(self, older_than: float, *, profile_id: str | None = None) -> RollupReport:
        """Compress the live rows with timestamps before ``older_than`` into chunks (every
        profile's, or one profile's), update the summaries, delete those live rows."""

    # The primitive reads each backend provides.

    @abc.abstractmethod
    async def _summary(
        self, profile_id: str, limit: int | None = None
    ) -> tuple[list[TitleState], float | None]:
        """The profile's newest ``limit`` summary states and its ``rolled_through`` (None:
        never rolled up)."""

    @abc.abstractmethod
    async def _rolled_through(self, profile_id: str) -> float | None:
        """The cutoff of the profile's last roll-up (None: never rolled up)."""

    @abc.abstractmethod
    async def _title_state(self, profile_id: str, title_id: str) -> TitleState | None:
        """The title's rolled-up state (its per-title row)."""

    @abc.abstractmethod
    async def _live(
        self,
        profile_id: str,
        *,
        since: float | None,
        before: Key | None = None,
        limit: int | None = None,
        title_id: str | None = None,
    ) -> list[ViewingEvent]:
        """Live rows with ``at >= since`` and key below ``before``, newest first."""

    @abc.abstractmethod
    async def _chunks_before(
        self, profile_id: str, before: Key | None, limit: int
    ) -> list[StoredChunk]:
        """Up to ``limit`` chunks whose min key is below ``before``, newest first."""

    # The reads, the same on every backend.

    async def latest_positions(self, profile_id: str, limit: int | None = None) -> list[TitleState]:
        """The newest state of each of the ``limit`` most recently watched titles (finished
        ones too; all of the summary's when None), newest first: what continue-watching is
        built from. Reads one summary row (parsing only its first ``limit`` entries: a summary
        entry past them is older than all of them, so it cannot make the cut) and the live
        rows."""
        summary, rolled_through = await self._summary(profile_id, limit)
        live = await self._live(profile_id, since=rolled_through)
        return latest_states(summary, live)[:limit]

    async def bookmark(self, profile_id: str, title_id: str) -> TitleState | None:
        """Where the profile is in ``title_id`` (None if it never watched it). Reads one
        per-title row and the live rows of that title."""
        rolled_through, stored = await asyncio.gather(
            self._rolled_through(profile_id), self._title_state(profile_id, title_id)
        )
        live = await self._live(profile_id, since=rolled_through, title_id=title_id)
        return latest_state(stored, live, title_id)

    async def history(
        self, profile_id: str, *, limit: int = 20, cursor: str | None = None
    ) -> HistoryPage:
        """Up to ``limit`` events older than ``cursor``, newest first, and the next cursor."""
        limit = max(1, min(limit, MAX_PAGE))
        before = decode_cursor(cursor) if cursor else None
        rolled_through = await self._rolled_through(profile_id)
        events = await self._live(profile_id, since=rolled_through, before=before, limit=limit + 1)
        oldest: Key | None = None
        chunk_before = before
        while True:
            merged = newest_first(events, before)
            if page_is_complete(merged, limit, oldest):
                break
            chunks = await self._chunks_before(profile_id, chunk_before, CHUNKS_PER_READ)
            for chunk in chunks:
                events.extend(decode_chunk(profile_id, chunk.blob))
            if len(chunks) < CHUNKS_PER_READ:
                merged = newest_first(events, before)
                break
            oldest = chunk_before = chunks[-1].min_key
        items = merged[:limit]
        more = len(merged) > limit
        return HistoryPage(items, encode_cursor(items[-1].key) if more and items else None)

    async def __aenter__(self) -> HistoryStore:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
