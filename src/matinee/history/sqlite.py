"""The embedded history store: one SQLite file of its own, in WAL mode.

The same tables as on Cassandra: ``live_events`` (the write-optimized LiveVH, keyed by
``(profile_id, at, event_id)``, a WITHOUT ROWID table so rows sit in that order), ``chunks``
and ``summaries`` (CompressedVH) and ``title_states`` (one row per title, for bookmarks).

Threads: one writer thread owns the only writing connection (appends and roll-ups take turns
on it, each in one ``BEGIN IMMEDIATE`` transaction), and a few reader threads own one
connection each; WAL lets them read while the writer writes. The sqlite3 module is used
directly: the store's work is a handful of statements, and an ORM would cost more than SQLite.

Durability: ``synchronous=FULL`` by default, so a commit is on disk (the WAL is fsynced) before
``append`` returns. The service batches many requests into one commit (group commit), which is
what makes FULL affordable.
"""

from __future__ import annotations

import asyncio
import itertools
import operator
import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from matinee.history import schema_sql
from matinee.history.base import HistoryStore
from matinee.history.codec import decode_summary
from matinee.history.errors import HistoryUnavailable
from matinee.history.merge import StoredChunk, latest_state, latest_states
from matinee.history.model import (
    Key,
    PlayCount,
    RollupReport,
    TitleState,
    ViewingEvent,
    day_of,
)
from matinee.history.options import HistoryOptions
from matinee.history.rollup import plan_rollup, touched_chunks

T = TypeVar("T")
BUSY_TIMEOUT_MS = 10_000
INSERT = schema_sql.SQLITE_INSERT


# The live row of an event, as one C-level call (this is the whole per-event cost of append).
event_row: Callable[[ViewingEvent], tuple[Any, ...]] = operator.attrgetter(
    "profile_id",
    "at",
    "event_id",
    "title_id",
    "kind",
    "position_s",
    "duration_s",
    "device",
    "rendition",
    "bitrate",
    "buffer_s",
    "rebuffers",
    "finished",
)


def _event(profile_id: str, r: Sequence[Any]) -> ViewingEvent:
    return ViewingEvent(
        profile_id, r[1], r[0], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], bool(r[11])
    )


_LIVE_SELECT = (
    "SELECT at, event_id, title_id, kind, position_s, duration_s, device, rendition, bitrate,"
    " buffer_s, rebuffers, finished FROM live_events WHERE profile_id = ?"
)
_CHUNKS_FROM = (
    "SELECT min_at, min_id, max_at, max_id, events, data FROM chunks"
    " WHERE profile_id = ? AND (min_at, min_id) >= (?, ?)"
)
_CHUNKS_BELOW = (
    "SELECT min_at, min_id, max_at, max_id, events, data FROM chunks"
    " WHERE profile_id = ? AND (min_at, min_id) < (?, ?)"
    " ORDER BY min_at DESC, min_id DESC LIMIT ?"
)
_CHUNKS_NEWEST = (
    "SELECT min_at, min_id, max_at, max_id, events, data FROM chunks WHERE profile_id = ?"
    " ORDER BY min_at DESC, min_id DESC LIMIT ?"
)
_CHUNK_UPSERT = (
    "INSERT OR REPLACE INTO chunks (profile_id, min_at, min_id, max_at, max_id, events, data)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _chunk(r: Sequence[Any]) -> StoredChunk:
    return StoredChunk((r[0], r[1]), (r[2], r[3]), r[4], bytes(r[5]))


class _Connection:
    """One thread that owns one sqlite3 connection; ``run`` calls a function on it."""

    def __init__(self, path: Path, synchronous: str, name: str) -> None:
        self.path = path
        self.synchronous = synchronous
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        return conn

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            self._conn = self._connect()
        try:
            return fn(self._conn)
        except sqlite3.Error as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise HistoryUnavailable(f"the history database failed: {exc}") from exc

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._call, fn)

    async def close(self) -> None:
        def close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(self._executor, close)
        self._executor.shutdown(wait=True)


def _write(conn: sqlite3.Connection, statements: Callable[[sqlite3.Connection], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    result = statements(conn)
    conn.execute("COMMIT")
    return result


class SqliteHistoryStore(HistoryStore):
    """The history store on a SQLite file (created with its schema on :meth:`open`)."""

    backend = "sqlite"

    def __init__(self, path: Path | str, options: HistoryOptions | None = None) -> None:
        super().__init__(options)
        self.path = Path(path)
        self._writer: _Connection | None = None
        self._readers: list[_Connection] = []
        self._next_reader = itertools.cycle(range(1))

    async def open(self) -> None:
        if self._writer is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        sync = self.options.synchronous
        self._writer = _Connection(self.path, sync, "history-writer")
        await self._writer.run(lambda c: c.executescript(schema_sql.SQLITE_SCHEMA))
        count = self.options.readers
        self._readers = [_Connection(self.path, sync, f"history-reader-{i}") for i in range(count)]
        self._next_reader = itertools.cycle(range(count))

    async def close(self) -> None:
        writer, readers = self._writer, self._readers
        self._writer, self._readers = None, []
        for conn in [*readers, *([writer] if writer else [])]:
            await conn.close()

    def _w(self) -> _Connection:
        if self._writer is None:
            raise HistoryUnavailable("the history store is not open")
        return self._writer

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if not self._readers:
            raise HistoryUnavailable("the history store is not open")
        return await self._readers[next(self._next_reader)].run(fn)

    async def append(self, events: Sequence[ViewingEvent]) -> None:
        if not events:
            return

        plays = [e for e in events if e.counts_a_play]

        def insert(conn: sqlite3.Connection) -> None:
            if not plays:
                conn.executemany(INSERT, map(event_row, events))
                return
            conn.executemany(INSERT, map(event_row, (e for e in events if not e.counts_a_play)))
            counts: Counter[tuple[str, int, str]] = Counter()
            for e in plays:  # a start counts only when its row is new: a retry counts nothing
                if conn.execute(INSERT, event_row(e)).rowcount:
                    counts[(e.country, day_of(e.at), e.title_id)] += 1
            conn.executemany(
                schema_sql.SQLITE_COUNT_PLAYS, [(*key, n) for key, n in counts.items()]
            )

        await self._w().run(lambda c: _write(c, insert))

    async def popular(
        self, country: str, *, first_day: int, last_day: int, limit: int
    ) -> list[PlayCount]:
        def read(c: sqlite3.Connection) -> list[PlayCount]:
            rows = c.execute(schema_sql.SQLITE_POPULAR, (country, first_day, last_day, limit))
            self.stats.queries += 1
            return [PlayCount(r[0], int(r[1])) for r in rows]

        return await self._read(read)

    # Reads: each public read is one trip to a reader thread.

    def _rolled_sync(self, c: sqlite3.Connection, profile_id: str) -> float | None:
        self.stats.queries += 1
        row = c.execute(
            "SELECT rolled_through FROM summaries WHERE profile_id = ?", (profile_id,)
        ).fetchone()
        return None if row is None else float(row[0])

    def _live_sync(
        self,
        c: sqlite3.Connection,
        profile_id: str,
        since: float | None,
        *,
        before: Key | None = None,
        limit: int | None = None,
        title_id: str | None = None,
    ) -> list[ViewingEvent]:
        sql = _LIVE_SELECT  # only constant fragments are added below; values are bound
        args: list[Any] = [profile_id]
        if since is not None:
            sql += " AND at >= ?"
            args.append(since)
        if before is not None:
            sql += " AND (at, event_id) < (?, ?)"
            args += [before[0], before[1]]
        if title_id is not None:
            sql += " AND title_id = ?"
            args.append(title_id)
        sql += " ORDER BY at DESC, event_id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        rows = c.execute(sql, args).fetchall()
        self.stats.queries += 1
        self.stats.live_rows += len(rows)
        return [_event(profile_id, r) for r in rows]

    async def latest_positions(self, profile_id: str, limit: int | None = None) -> list[TitleState]:
        def read(c: sqlite3.Connection) -> list[TitleState]:
            self.stats.queries += 1
            row = c.execute(
                "SELECT data, rolled_through FROM summaries WHERE profile_id = ?", (profile_id,)
            ).fetchone()
            summary = decode_summary(row[0], limit) if row else []
            self.stats.summaries += 1 if row else 0
            live = self._live_sync(c, profile_id, row[1] if row else None)
            return latest_states(summary, live)[:limit]

        return await self._read(read)

    async def bookmark(self, profile_id: str, title_id: str) -> TitleState | None:
        def read(c: sqlite3.Connection) -> TitleState | None:
            rolled = self._rolled_sync(c, profile_id)
            stored = self._title_sync(c, profile_id, title_id)
            live = self._live_sync(c, profile_id, rolled, title_id=title_id)
            return latest_state(stored, live, title_id)

        return await self._read(read)

    def _title_sync(
        self, c: sqlite3.Connection, profile_id: str, title_id: str
    ) -> TitleState | None:
        self.stats.queries += 1
        row = c.execute(
            "SELECT title_id, position_s, duration_s, at, event_id, finished FROM title_states"
            " WHERE profile_id = ? AND title_id = ?",
            (profile_id, title_id),
        ).fetchone()
        if row is None:
            return None
        self.stats.title_rows += 1
        return TitleState(row[0], row[1], row[2], row[3], row[4], bool(row[5]))

    async def _summary(
        self, profile_id: str, limit: int | None = None
    ) -> tuple[list[TitleState], float | None]:
        def read(c: sqlite3.Connection) -> tuple[list[TitleState], float | None]:
            row = c.execute(
                "SELECT data, rolled_through FROM summaries WHERE profile_id = ?", (profile_id,)
            ).fetchone()
            return (decode_summary(row[0], limit), row[1]) if row else ([], None)

        return await self._read(read)

    async def _rolled_through(self, profile_id: str) -> float | None:
        return await self._read(lambda c: self._rolled_sync(c, profile_id))

    async def _title_state(self, profile_id: str, title_id: str) -> TitleState | None:
        return await self._read(lambda c: self._title_sync(c, profile_id, title_id))

    async def _live(
        self,
        profile_id: str,
        *,
        since: float | None,
        before: Key | None = None,
        limit: int | None = None,
        title_id: str | None = None,
    ) -> list[ViewingEvent]:
        return await self._read(
            lambda c: self._live_sync(
                c, profile_id, since, before=before, limit=limit, title_id=title_id
            )
        )

    async def _chunks_before(
        self, profile_id: str, before: Key | None, limit: int
    ) -> list[StoredChunk]:
        def read(c: sqlite3.Connection) -> list[StoredChunk]:
            if before is None:
                rows = c.execute(_CHUNKS_NEWEST, (profile_id, limit)).fetchall()
            else:
                rows = c.execute(_CHUNKS_BELOW, (profile_id, *before, limit)).fetchall()
            self.stats.queries += 1
            self.stats.chunks += len(rows)
            return [_chunk(r) for r in rows]

        return await self._read(read)

    # The roll-up: one writer transaction per profile.

    async def roll_up(self, older_than: float, *, profile_id: str | None = None) -> RollupReport:
        if profile_id is not None:
            profiles = [profile_id]
        else:
            profiles = await self._read(
                lambda c: [
                    r[0]
                    for r in c.execute(
                        "SELECT DISTINCT profile_id FROM live_events WHERE at < ?", (older_than,)
                    )
                ]
            )
        report = RollupReport()
        for profile in profiles:

            def fold(c: sqlite3.Connection, profile: str = profile) -> RollupReport:
                return _write(c, lambda c2: self._roll_up_sync(c2, profile, older_than))

            report += await self._w().run(fold)
        return report

    def _roll_up_sync(self, c: sqlite3.Connection, profile_id: str, cutoff: float) -> RollupReport:
        opts = self.options
        row = c.execute(
            "SELECT data, rolled_through FROM summaries WHERE profile_id = ?", (profile_id,)
        ).fetchone()
        rolled = row[1] if row else None
        since = rolled - opts.late_s if rolled is not None else None
        # (at, event_id) < (cutoff, "") is at < cutoff: every id sorts at or above "".
        live = self._live_sync(c, profile_id, since, before=(cutoff, ""))
        if not live:
            return RollupReport()
        oldest = min(e.key for e in live)
        chunks_from = [_chunk(r) for r in c.execute(_CHUNKS_FROM, (profile_id, *oldest))]
        below = c.execute(_CHUNKS_BELOW, (profile_id, *oldest, 1)).fetchone()
        newest = c.execute(_CHUNKS_NEWEST, (profile_id, 1)).fetchone()
        touched = touched_chunks(
            oldest,
            chunks_from,
            _chunk(below) if below else None,
            _chunk(newest) if newest else None,
            chunk_events=opts.chunk_events,
        )
        plan = plan_rollup(
            profile_id,
            live,
            touched,
            decode_summary(row[0]) if row else [],
            chunk_events=opts.chunk_events,
            summary_titles=opts.summary_titles,
        )
        c.executemany(
            "DELETE FROM chunks WHERE profile_id = ? AND min_at = ? AND min_id = ?",
            [(profile_id, k[0], k[1]) for k in plan.replaced],
        )
        c.executemany(
            _CHUNK_UPSERT,
            [
                (
                    profile_id,
                    k.min_key[0],
                    k.min_key[1],
                    k.max_key[0],
                    k.max_key[1],
                    k.count,
                    k.blob,
                )
                for k in plan.chunks
            ],
        )
        c.executemany(
            schema_sql.SQLITE_UPSERT_TITLE, [(profile_id, *_state(s)) for s in plan.states]
        )
        c.execute(
            "INSERT OR REPLACE INTO summaries (profile_id, data, titles, rolled_through)"
            " VALUES (?, ?, ?, ?)",
            (profile_id, plan.summary, plan.summary_titles, max(cutoff, rolled or cutoff)),
        )
        c.executemany(
            "DELETE FROM live_events WHERE profile_id = ? AND at = ? AND event_id = ?",
            [(profile_id, e.at, e.event_id) for e in live],
        )
        return RollupReport(1, plan.events, len(plan.chunks), len(plan.replaced))


def _state(s: TitleState) -> tuple[Any, ...]:
    return (s.title_id, s.at, s.event_id, s.position_s, s.duration_s, s.finished)
