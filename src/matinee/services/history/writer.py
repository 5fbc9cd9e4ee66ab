"""Group commit: many requests' events go to the store in one write, each request waiting for it.

A request hands its events to :meth:`GroupCommitWriter.submit` and waits. A flusher takes
everything that has queued up (whole requests, up to ``max_batch`` events), writes it with one
``store.append`` (one transaction on SQLite, one set of concurrent batches on Cassandra) and
then wakes every request in that write: each is acknowledged only once its events are durable.
If the write fails, every request in it fails (503): nothing was acknowledged, and a retried
batch is harmless because events are idempotent.

No timer is involved: while one write is in progress the next one gathers by itself, so batches
grow with the load and a lone request is written at once. ``flushers`` writes may be in progress
at the same time (on Cassandra they run concurrently, to different replicas; on SQLite the
second waits, gathered, in the one writer thread's queue, so the database never waits for the
event loop to acknowledge one batch and gather the next). Beyond ``max_pending`` queued events
a request is refused at once (503 with Retry-After) rather than queued behind a backlog it
would time out in.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from matinee.clock import Clock
from matinee.history import HistoryStore, HistoryUnavailable, ViewingEvent
from matinee.services.history.errors import IngestOverloaded
from matinee.telemetry.metrics import Registry

log = logging.getLogger(__name__)

Waiter = tuple[Sequence[ViewingEvent], "asyncio.Future[None]"]


class GroupCommitWriter:
    """Gathers concurrent requests' events into shared writes to ``store``."""

    def __init__(
        self,
        store: HistoryStore,
        *,
        clock: Clock,
        metrics: Registry,
        max_batch: int = 50_000,
        max_pending: int = 200_000,
        flushers: int = 1,
    ) -> None:
        self.store = store
        self.clock = clock
        self.max_batch = max_batch
        self.max_pending = max_pending
        self.flushers = flushers
        self._queue: deque[Waiter] = deque()
        self._queued_events = 0
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._commit = metrics.timer("history.writer.commit")
        self._batch_events = metrics.counter("history.writer.events")
        self._batches = metrics.counter("history.writer.batches")
        self._refused = metrics.counter("history.writer.refused")
        self._failed = metrics.counter("history.writer.failed")
        metrics.gauge_fn("history.writer.queued", lambda: float(self._queued_events))

    async def submit(self, events: Sequence[ViewingEvent]) -> None:
        """Return once ``events`` are durable in the store; raise if they could not be written."""
        if not events:
            return
        if self._closing or not self._tasks:
            raise HistoryUnavailable("the history writer is not running")
        if self._queued_events + len(events) > self.max_pending:
            self._refused.inc()
            raise IngestOverloaded(
                "Too many viewing events are waiting to be written; retry in a moment."
            )
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((events, done))
        self._queued_events += len(events)
        self._wake.set()
        await done

    def _take(self) -> list[Waiter]:
        taken: list[Waiter] = []
        count = 0
        queue = self._queue
        while queue and (not taken or count + len(queue[0][0]) <= self.max_batch):
            waiter = queue.popleft()
            taken.append(waiter)
            count += len(waiter[0])
        self._queued_events -= count
        if not queue and not self._closing:
            self._wake.clear()
        return taken

    async def _flush_forever(self) -> None:
        while True:
            await self._wake.wait()
            taken = self._take()
            if not taken:
                if self._closing:
                    return
                continue
            await self._write(taken)

    async def _write(self, taken: list[Waiter]) -> None:
        batch: list[ViewingEvent] = []
        for events, _ in taken:
            batch.extend(events)
        start = self.clock.monotonic()
        try:
            await self.store.append(batch)
        except Exception as exc:  # noqa: BLE001 - every waiter learns why; the flusher lives on
            self._failed.inc()
            log.warning("writing %d viewing events failed: %s", len(batch), exc)
            failure = (
                exc
                if isinstance(exc, HistoryUnavailable)
                else HistoryUnavailable(f"viewing history could not be written: {exc}")
            )
            for _, done in taken:
                if not done.done():
                    done.set_exception(failure)
            return
        self._commit.record(self.clock.monotonic() - start)
        self._batches.inc()
        self._batch_events.inc(len(batch))
        for _, done in taken:
            if not done.done():  # a request that gave up (client gone) is simply not told
                done.set_result(None)

    def start(self) -> None:
        if self._tasks:
            return
        self._closing = False
        self._tasks = [
            asyncio.create_task(self._flush_forever(), name=f"history-writer-{i}")
            for i in range(self.flushers)
        ]

    async def stop(self) -> None:
        """Write what is queued, then stop the flushers."""
        self._closing = True
        self._wake.set()
        tasks, self._tasks = self._tasks, []
        await asyncio.gather(*tasks)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self.start()
        try:
            yield
        finally:
            await self.stop()
