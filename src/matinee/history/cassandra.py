"""The history store on Apache Cassandra (or ScyllaDB), through the DataStax Python driver.

Tables are in ``schema_sql.py``; the store creates the keyspace (replication from the URL's
``replication`` option) and the tables if they are missing.

**Consistency, on purpose.** Reads and writes use ``LOCAL_QUORUM`` by default: a write is
acknowledged once a majority of the local data centre's replicas have it in their commit logs,
so losing one node loses no acknowledged event, and a quorum read after a quorum write sees it
(R + W > RF), so a bookmark written on one device is read back on the next within the data
centre. Other data centres catch up asynchronously (eventual consistency, which viewing history
tolerates). ``ONE`` would ack after a single replica - faster, but one disk failure could lose
acknowledged heartbeats. On the single test node (RF 1) ``LOCAL_QUORUM`` is one replica, the
same as ``ONE``, so the tests run the production setting unchanged. The roll-up lease is a
lightweight transaction at ``LOCAL_SERIAL``.

**TTLs, on purpose.** Live rows have none: they leave by the roll-up, which deletes what it has
compressed. A TTL longer than the roll-up period would be a safety net against unbounded
partitions, but the moment the roll-up stalled past it, acknowledged history would vanish
unnoticed - the opposite of the service's promise. Only the lease row has a TTL
(``LEASE_TTL_S``), so a crashed roll-up frees its profile.

**Deleting what was rolled up, safely.** The roll-up deletes the slice it read with one range
tombstone ``USING TIMESTAMP`` = (start of the roll-up - ``delete_margin_s``, 60 s): a live row
written after that instant survives even if its timestamp falls in the slice (a late event landing
while the roll-up runs). Rows written within the margin stay behind as duplicates of what the
chunks now hold; reads merge by event id and the next roll-up folds them in again. The margin
covers requests still in flight (``timeout_s``) and clock skew between application servers.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

from cassandra import ConsistencyLevel  # type: ignore[import-untyped]
from cassandra.cluster import (  # type: ignore[import-untyped]
    EXEC_PROFILE_DEFAULT,
    Cluster,
    ExecutionProfile,
    ResponseFuture,
    Session,
)
from cassandra.concurrent import execute_concurrent_async  # type: ignore[import-untyped]
from cassandra.policies import (  # type: ignore[import-untyped]
    DCAwareRoundRobinPolicy,
    TokenAwarePolicy,
)
from cassandra.query import (  # type: ignore[import-untyped]
    BatchStatement,
    BatchType,
    tuple_factory,
)

from matinee.history import schema_sql
from matinee.history.base import HistoryStore
from matinee.history.codec import decode_summary
from matinee.history.cql import Statements, as_unavailable, event_params
from matinee.history.merge import StoredChunk
from matinee.history.model import (
    Key,
    PlayCount,
    RollupReport,
    TitleState,
    ViewingEvent,
    day_of,
)
from matinee.history.options import HistoryOptions, replication_map
from matinee.history.rollup import plan_rollup, touched_chunks

ROLLUP_PROFILES_AT_ONCE = 8


class CassandraHistoryStore(HistoryStore):
    """The history store on a Cassandra cluster reached at ``hosts`` (host, native port)."""

    backend = "cassandra"

    def __init__(
        self,
        hosts: Sequence[tuple[str, int]],
        keyspace: str,
        options: HistoryOptions | None = None,
    ) -> None:
        super().__init__(options)
        self.hosts = list(hosts)
        self.keyspace = keyspace
        self._cluster: Cluster | None = None
        self._session: Session | None = None
        self._q: Statements | None = None

    async def open(self) -> None:
        if self._session is not None:
            return
        try:
            await asyncio.to_thread(self._connect)
        except Exception as exc:
            await self.close()
            raise as_unavailable(exc, "connect to Cassandra") from exc

    def _connect(self) -> None:
        opts = self.options
        profile = ExecutionProfile(
            load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy()),
            consistency_level=getattr(ConsistencyLevel, opts.consistency),
            serial_consistency_level=getattr(ConsistencyLevel, opts.serial_consistency),
            request_timeout=opts.timeout_s,
            row_factory=tuple_factory,
        )
        ports = {port for _, port in self.hosts}
        self._cluster = Cluster(
            [host for host, _ in self.hosts],
            port=ports.pop() if len(ports) == 1 else 9042,
            protocol_version=opts.protocol_version,
            execution_profiles={EXEC_PROFILE_DEFAULT: profile},
            connect_timeout=opts.timeout_s,
        )
        session = self._cluster.connect()
        replication = replication_map(opts.replication)
        params = ", ".join(f"'{k}': '{v}'" for k, v in replication.items())
        session.execute(
            f"CREATE KEYSPACE IF NOT EXISTS {self.keyspace} WITH replication = {{{params}}}"
        )
        for ddl in schema_sql.CQL_TABLES:
            session.execute(ddl.format(ks=self.keyspace))
        self._q = Statements(session, self.keyspace)
        self._session = session

    async def close(self) -> None:
        cluster, self._cluster, self._session, self._q = self._cluster, None, None, None
        if cluster is not None:
            await asyncio.to_thread(cluster.shutdown)

    def _s(self) -> tuple[Session, Statements]:
        if self._session is None or self._q is None:
            raise as_unavailable(RuntimeError("not open"), "use the history store")
        return self._session, self._q

    async def _rows(self, statement: Any, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement without blocking the event loop; every page of its rows."""
        session, _ = self._s()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[list[tuple[Any, ...]]] = loop.create_future()
        rows: list[tuple[Any, ...]] = []
        try:
            future: ResponseFuture = session.execute_async(statement, params)
        except Exception as exc:
            raise as_unavailable(exc, "query Cassandra") from exc

        def ok(page: list[tuple[Any, ...]] | None) -> None:
            if page:  # a write answers with no rows at all
                rows.extend(page)
            if future.has_more_pages:
                future.start_fetching_next_page()
            else:
                loop.call_soon_threadsafe(_resolve, done, rows)

        def fail(exc: BaseException) -> None:
            loop.call_soon_threadsafe(_reject, done, exc)

        future.add_callbacks(ok, fail)
        try:
            result = await done
        except Exception as exc:
            raise as_unavailable(exc, "query Cassandra") from exc
        self.stats.queries += 1
        return result

    async def append(self, events: Sequence[ViewingEvent]) -> None:
        if not events:
            return
        session, q = self._s()
        by_profile: dict[str, list[ViewingEvent]] = {}
        for event in events:
            by_profile.setdefault(event.profile_id, []).append(event)
        statements: list[tuple[Any, Any]] = []
        for group in by_profile.values():
            if len(group) == 1:
                statements.append((q.insert, event_params(group[0])))
                continue
            # One unlogged batch per partition: one mutation on the replicas, one round trip.
            batch = BatchStatement(batch_type=BatchType.UNLOGGED)
            for event in group:
                batch.add(q.insert, event_params(event))
            statements.append((batch, None))
        try:
            await self._execute_all(session, statements)
        except Exception as exc:
            raise as_unavailable(exc, "write viewing history to Cassandra") from exc
        await self._count_plays(events)

    async def _execute_all(self, session: Session, statements: list[tuple[Any, Any]]) -> None:
        """Every statement, ``concurrency`` in flight, the first error raised. The driver keeps
        the window full from its own I/O thread; the event loop is woken once, at the end."""
        await asyncio.wrap_future(
            execute_concurrent_async(session, statements, self.options.concurrency, True)
        )

    async def _count_plays(self, events: Sequence[ViewingEvent]) -> None:
        """Counter updates for the starts, after their rows are written: a counter cannot share
        a batch with other tables, and is not idempotent (see ``HistoryStore.append``)."""
        counts: Counter[tuple[str, int, str]] = Counter(
            (e.country, day_of(e.at), e.title_id) for e in events if e.counts_a_play
        )
        if not counts:
            return
        session, q = self._s()
        updates = [(q.count_plays, (n, *key)) for key, n in counts.items()]
        try:
            await self._execute_all(session, updates)
        except Exception as exc:
            raise as_unavailable(exc, "count plays in Cassandra") from exc

    async def popular(
        self, country: str, *, first_day: int, last_day: int, limit: int
    ) -> list[PlayCount]:
        _, q = self._s()
        days = range(first_day, last_day + 1)
        totals: Counter[str] = Counter()
        for rows in await asyncio.gather(*(self._rows(q.plays_on, (country, d)) for d in days)):
            for title_id, plays in rows:
                totals[title_id] += int(plays)
        ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        return [PlayCount(title, plays) for title, plays in ranked]

    # Primitive reads.

    async def _summary(
        self, profile_id: str, limit: int | None = None
    ) -> tuple[list[TitleState], float | None]:
        _, q = self._s()
        rows = await self._rows(q.summary, (profile_id,))
        if not rows or rows[0][1] is None:
            return [], None
        self.stats.summaries += 1
        return decode_summary(rows[0][0], limit), float(rows[0][1])

    async def _rolled_through(self, profile_id: str) -> float | None:
        _, q = self._s()
        rows = await self._rows(q.rolled_through, (profile_id,))
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    async def _title_state(self, profile_id: str, title_id: str) -> TitleState | None:
        _, q = self._s()
        rows = await self._rows(q.title_state, (profile_id, title_id))
        if not rows:
            return None
        self.stats.title_rows += 1
        r = rows[0]
        return TitleState(title_id, r[0], r[1], r[2], r[3], bool(r[4]))

    async def _live(
        self,
        profile_id: str,
        *,
        since: float | None,
        before: Key | None = None,
        limit: int | None = None,
        title_id: str | None = None,
    ) -> list[ViewingEvent]:
        _, q = self._s()
        statement, params = q.live(profile_id, since, before, limit, title_id)
        rows = await self._rows(statement, params)
        self.stats.live_rows += len(rows)
        return [
            ViewingEvent(
                profile_id,
                r[1],
                r[0],
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                r[7],
                r[8],
                r[9],
                r[10],
                bool(r[11]),
            )
            for r in rows
        ]

    async def _chunks_before(
        self, profile_id: str, before: Key | None, limit: int
    ) -> list[StoredChunk]:
        _, q = self._s()
        if before is None:
            rows = await self._rows(q.chunks_newest, (profile_id, limit))
        else:
            rows = await self._rows(q.chunks_below, (profile_id, before[0], before[1], limit))
        chunks = [_chunk(r) for r in rows if r[0] is not None]
        self.stats.chunks += len(chunks)
        return chunks

    # The roll-up.

    async def roll_up(self, older_than: float, *, profile_id: str | None = None) -> RollupReport:
        _, q = self._s()
        if profile_id is not None:
            profiles = [profile_id]
        else:  # a scan of partition keys only, spread over the token ring by the coordinator
            profiles = [r[0] for r in await self._rows(q.profiles)]
        report = RollupReport()
        gate = asyncio.Semaphore(ROLLUP_PROFILES_AT_ONCE)

        async def one(profile: str) -> RollupReport:
            async with gate:
                return await self._roll_up_profile(profile, older_than)

        for result in await asyncio.gather(*(one(p) for p in profiles)):
            report += result
        return report

    async def _roll_up_profile(self, profile_id: str, cutoff: float) -> RollupReport:
        session, q = self._s()
        owner = uuid.uuid4().hex
        lease = await self._rows(q.take_lease, (profile_id, owner))
        if not lease or not lease[0][0]:
            return RollupReport()  # another instance is rolling this profile up
        try:
            return await self._fold(profile_id, cutoff, session, q)
        finally:
            await self._rows(q.drop_lease, (profile_id, owner))

    async def _fold(
        self, profile_id: str, cutoff: float, session: Session, q: Statements
    ) -> RollupReport:
        opts = self.options
        delete_at = int((time.time() - opts.delete_margin_s) * 1_000_000)
        summary, rolled = await self._summary(profile_id)
        since = rolled - opts.late_s if rolled is not None else None
        live = await self._live(profile_id, since=since, before=(cutoff, ""))
        if not live:
            return RollupReport()
        oldest = min(e.key for e in live)
        chunks_from, below, newest = await asyncio.gather(
            self._rows(q.chunks_from, (profile_id, oldest[0], oldest[1])),
            self._rows(q.chunks_below, (profile_id, oldest[0], oldest[1], 1)),
            self._rows(q.chunks_newest, (profile_id, 1)),
        )
        touched = touched_chunks(
            oldest,
            [_chunk(r) for r in chunks_from if r[0] is not None],
            _chunk(below[0]) if below and below[0][0] is not None else None,
            _chunk(newest[0]) if newest and newest[0][0] is not None else None,
            chunk_events=opts.chunk_events,
        )
        plan = plan_rollup(
            profile_id,
            live,
            touched,
            summary,
            chunk_events=opts.chunk_events,
            summary_titles=opts.summary_titles,
        )
        # Chunks and summary in one single-partition batch: atomic and isolated.
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        for key in plan.replaced:
            batch.add(q.delete_chunk, (profile_id, key[0], key[1]))
        for c in plan.chunks:
            params = (profile_id, c.min_key[0], c.min_key[1], c.max_key[0], c.max_key[1])
            batch.add(q.insert_chunk, (*params, c.count, c.blob))
        new_rolled = max(cutoff, rolled if rolled is not None else cutoff)
        batch.add(q.set_summary, (plan.summary, plan.summary_titles, new_rolled, profile_id))
        await self._rows(batch)
        await asyncio.gather(
            *(
                self._rows(
                    q.upsert_title,
                    (
                        profile_id,
                        s.title_id,
                        s.at,
                        s.event_id,
                        s.position_s,
                        s.duration_s,
                        s.finished,
                        int(s.at * 1_000_000),
                    ),
                )
                for s in plan.states
            )
        )
        if since is None:
            await self._rows(q.delete_live_below, (delete_at, profile_id, cutoff))
        else:
            await self._rows(q.delete_live_between, (delete_at, profile_id, since, cutoff))
        return RollupReport(1, plan.events, len(plan.chunks), len(plan.replaced))


def _chunk(r: Sequence[Any]) -> StoredChunk:
    return StoredChunk((r[0], r[1]), (r[2], r[3]), r[4], r[5])


def _resolve(done: asyncio.Future[list[tuple[Any, ...]]], rows: list[tuple[Any, ...]]) -> None:
    if not done.done():
        done.set_result(rows)


def _reject(done: asyncio.Future[list[tuple[Any, ...]]], exc: BaseException) -> None:
    if not done.done():
        done.set_exception(exc)


__all__ = ["CassandraHistoryStore"]
