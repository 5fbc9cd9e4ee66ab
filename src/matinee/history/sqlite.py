"""The embedded history store: one SQLite file of its own, in WAL mode.

The same tables as on Cassandra: ``live_events`` (the write-optimized LiveVH, keyed by
``(profile_id, at, event_id)``, a WITHOUT ROWID table so rows sit in that order), ``chunks``
and ``summaries`` (CompressedVH) and ``title_states`` (one row per title, for bookmarks).

Threads: one writer thread owns the only writing connection (appends and roll-ups take turns
on it, each in one ``BEGIN IMMEDIATE`` transaction), a few reader threads own one connection
each (WAL lets them read while the writer writes), and a checkpointer thread copies the WAL
back into the database file on its own connection, off the writer's commit path. The sqlite3
module is used directly: the store's work is a handful of statements, and an ORM would cost
more than SQLite.

Durability: ``synchronous=FULL`` by default, so a commit is on disk (the WAL is fsynced) before
``append`` returns. The service batches many requests into one commit (group commit), which is
what makes FULL affordable.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import operator
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
log = logging.getLogger(__name__)
BUSY_TIMEOUT_MS = 10_000
INSERT = schema_sql.SQLITE_INSERT
# Rows per INSERT statement when appending many: one statement of 500 rows is stepped once, where
# executemany steps (and releases and retakes the GIL) once per row; about 10 % faster alone
# and not held up row by row by the event loop's thread (6,500 bound values, under SQLite's
# limit of 32,766).
INSERT_ROWS = 500

# The writer's page cache. Appends are spread over every active profile's pages (the live table
# is clustered by profile), so a commit dirties about one page per profile in it; a cache that
# holds the live table's hot pages saves reading them back.
WRITER_CACHE_KIB = 65_536
# Checkpoints (copying the WAL back into the database file) run on a connection of their own,
# off the writer's commit path (its automatic checkpoints are off): a PASSIVE checkpoint once
# about CHECKPOINT_ROWS rows were committed since the last one began, so a page written by
# several commits in between is copied once. Inline, at the same WAL size, they cost the writer
# about a third of its commit time. A busy writer begins its next transaction before a
# PASSIVE checkpoint catches up, so the WAL is not reused and grows: past WAL_LIMIT_BYTES of
# frames a TRUNCATE checkpoint waits for the writer, copies the rest and empties the file.
CHECKPOINT_ROWS = 40_000
COMMIT_ROWS = 8  # what a commit costs besides its rows (interior pages), counted as rows
WAL_LIMIT_BYTES = 256 * 2**20


def connection_pragmas(synchronous: str, *, writer: bool) -> list[str]:
    """The PRAGMAs every connection to a history database runs first (the writer's also sizes
    its cache); the ingest benchmark's raw baseline runs the same ones."""
    pragmas = [
        f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
        "PRAGMA journal_mode=WAL",
        f"PRAGMA synchronous={synchronous}",
    ]
    if writer:
        pragmas.append(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
    return pragmas


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


def insert_live(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert live rows (as made by :func:`event_row`), ``INSERT_ROWS`` to a statement (fewer
    where SQLite allows fewer bound values: builds before 3.32 allow 999)."""
    fields = schema_sql.LIVE_FIELDS
    per = min(INSERT_ROWS, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // fields)
    whole = len(rows) - len(rows) % per if per > 1 else 0
    if whole:
        flat = list(itertools.chain.from_iterable(rows[:whole]))
        step = per * fields
        statement = _insert_many(per)
        conn.executemany(statement, (flat[i : i + step] for i in range(0, len(flat), step)))
    if whole < len(rows):
        conn.executemany(INSERT, rows[whole:])


@functools.cache
def _insert_many(rows: int) -> str:
    return schema_sql.sqlite_insert(rows)


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

    def __init__(self, path: Path, synchronous: str, name: str, *, writer: bool = False) -> None:
        self.path = path
        self.pragmas = connection_pragmas(synchronous, writer=writer)
        if writer:
            self.pragmas.append("PRAGMA wal_autocheckpoint=0")  # the _Checkpointer's job
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        for pragma in self.pragmas:
            conn.execute(pragma)
        return conn

    def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Call ``fn`` on the connection; only from its own thread (:meth:`run`, :meth:`submit`)."""
        if self._closed:
            raise HistoryUnavailable("the history store is closed")
        try:
            if self._conn is None:
                self._conn = self._connect()
            return fn(self._conn)
        except sqlite3.Error as exc:
            if self._conn is not None and self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise HistoryUnavailable(f"the history database failed: {exc}") from exc

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.call, fn)

    def submit(self, fn: Callable[[], None]) -> bool:
        """Start ``fn`` on this connection's thread (where it may :meth:`call`) without waiting
        for it; False once the connection is closing."""
        try:
            self._executor.submit(fn)
        except RuntimeError:  # shut down: the store is closing
            return False
        return True

    async def close(self) -> None:
        def close() -> None:
            self._closed = True  # work queued behind this finds it closed, never reopens it
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(self._executor, close)
        self._executor.shutdown(wait=True)


@dataclass(slots=True)
class CheckpointStats:
    """The background checkpoints since the store opened: done, followed by a TRUNCATE (the
    WAL had outgrown its limit), failed (tried again after later commits)."""

    checkpoints: int = 0
    truncates: int = 0
    failures: int = 0


class _Checkpointer:
    """Runs the WAL checkpoints on its own connection and thread (see ``CHECKPOINT_ROWS``):
    :meth:`committed` is told of every write, and starts a checkpoint, unless one is running,
    once enough rows went in since the last one began."""

    def __init__(self, path: Path, synchronous: str, *, every_rows: int, wal_limit: int) -> None:
        self._conn = _Connection(path, synchronous, "history-checkpointer")
        self._every_rows = every_rows
        self._wal_limit = wal_limit
        self._lock = threading.Lock()
        self._rows = 0
        self._running = False
        self._closed = False
        self.stats = CheckpointStats()

    def committed(self, rows: int) -> None:
        with self._lock:
            self._rows += rows + COMMIT_ROWS
            if self._closed or self._running or self._rows < self._every_rows:
                return
            self._rows = 0
            self._running = True
        if not self._conn.submit(self._checkpoint):
            with self._lock:
                self._running = False

    def _checkpoint(self) -> None:
        try:
            self._copy_back()
        except HistoryUnavailable as exc:  # tried again after later commits
            self._failed(str(exc))
        finally:
            with self._lock:
                self._running = False

    def _copy_back(self) -> None:
        busy, frames, _ = self._conn.call(_pragma_row("wal_checkpoint(PASSIVE)"))
        if busy:  # another connection is checkpointing this file: it does the work
            return
        self.stats.checkpoints += 1
        (page_size,) = self._conn.call(_pragma_row("page_size"))
        if frames * page_size <= self._wal_limit:
            return
        # TRUNCATE waits for the writer, copies the rest and empties the file (a reused WAL
        # keeps its size on disk; this gives the space back).
        busy, _, _ = self._conn.call(_pragma_row("wal_checkpoint(TRUNCATE)"))
        if busy:
            self._failed("the WAL could not be emptied: a reader or the writer held it")
            return
        self.stats.truncates += 1

    def _failed(self, why: str) -> None:
        self.stats.failures += 1
        log.warning("checkpointing the history database failed: %s", why)

    async def close(self) -> None:
        with self._lock:
            self._closed = True  # commits still finishing start no more checkpoints
        await self._conn.close()


def _pragma_row(pragma: str) -> Callable[[sqlite3.Connection], tuple[Any, ...]]:
    def run(conn: sqlite3.Connection) -> tuple[Any, ...]:
        row: tuple[Any, ...] = conn.execute(f"PRAGMA {pragma}").fetchone()
        return row

    return run


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
        self._checkpointer: _Checkpointer | None = None
        self._readers: list[_Connection] = []
        self._next_reader = itertools.cycle(range(1))

    async def open(self) -> None:
        if self._writer is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        sync = self.options.synchronous
        self._writer = _Connection(self.path, sync, "history-writer", writer=True)
        self._checkpointer = _Checkpointer(
            self.path, sync, every_rows=CHECKPOINT_ROWS, wal_limit=WAL_LIMIT_BYTES
        )
        await self._writer.run(lambda c: c.executescript(schema_sql.SQLITE_SCHEMA))
        count = self.options.readers
        self._readers = [_Connection(self.path, sync, f"history-reader-{i}") for i in range(count)]
        self._next_reader = itertools.cycle(range(count))

    async def close(self) -> None:
        writer, checkpointer, readers = self._writer, self._checkpointer, self._readers
        self._writer, self._checkpointer, self._readers = None, None, []
        for conn in readers:
            await conn.close()
        if checkpointer is not None:
            await checkpointer.close()
        if writer is not None:
            await writer.close()

    @property
    def checkpoints(self) -> CheckpointStats:
        """The background checkpoints so far (all zero when the store is closed)."""
        return CheckpointStats() if self._checkpointer is None else self._checkpointer.stats

    async def _commit(
        self, statements: Callable[[sqlite3.Connection], T], rows: Callable[[T], int]
    ) -> T:
        """Run ``statements`` in one write transaction on the writer's thread; ``rows`` tells
        from their result about how many rows they wrote (the checkpointer's measure)."""
        writer, checkpointer = self._writer, self._checkpointer
        if writer is None or checkpointer is None:
            raise HistoryUnavailable("the history store is not open")
        result = await writer.run(lambda c: _write(c, statements))
        checkpointer.committed(rows(result))
        return result

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
                insert_live(conn, list(map(event_row, events)))
                return
            insert_live(conn, [event_row(e) for e in events if not e.counts_a_play])
            counts: Counter[tuple[str, int, str]] = Counter()
            for e in plays:  # a start counts only when its row is new: a retry counts nothing
                if conn.execute(INSERT, event_row(e)).rowcount:
                    counts[(e.country, day_of(e.at), e.title_id)] += 1
            conn.executemany(
                schema_sql.SQLITE_COUNT_PLAYS, [(*key, n) for key, n in counts.items()]
            )

        await self._commit(insert, lambda _: len(events))

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
                return self._roll_up_sync(c, profile, older_than)

            report += await self._commit(fold, lambda done: done.events)
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
