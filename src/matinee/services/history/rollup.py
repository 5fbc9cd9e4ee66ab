"""The roll-up loop: every ``period_s`` (on the service's clock) the live rows older than
``age_s`` are folded into compressed chunks and summaries (``HistoryStore.roll_up``).

Every history instance runs it; the store keeps them from colliding (one SQLite write
transaction per profile; a lease per profile on Cassandra). A failed run is logged, counted and
tried again next period: the live rows simply wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from matinee.clock import Clock
from matinee.history import HistoryStore, RollupReport
from matinee.telemetry.metrics import Registry

log = logging.getLogger(__name__)


class RollupLoop:
    """Runs the store's roll-up every ``period_s`` for rows older than ``age_s``."""

    def __init__(
        self, store: HistoryStore, clock: Clock, metrics: Registry, *, period_s: float, age_s: float
    ) -> None:
        self.store = store
        self.clock = clock
        self.period_s = period_s
        self.age_s = age_s
        self._runs = metrics.counter("history.rollup.runs")
        self._failed = metrics.counter("history.rollup.failed")
        self._events = metrics.counter("history.rollup.events")
        self._profiles = metrics.counter("history.rollup.profiles")
        self._took = metrics.timer("history.rollup.duration")

    async def run_once(self) -> RollupReport:
        """One roll-up of every profile's live rows older than ``age_s``."""
        start = self.clock.monotonic()
        report = await self.store.roll_up(self.clock.time() - self.age_s)
        self._took.record(self.clock.monotonic() - start)
        self._runs.inc()
        self._events.inc(report.events)
        self._profiles.inc(report.profiles)
        if report.events:
            log.info(
                "rolled up %d events of %d profiles into %d chunks",
                report.events,
                report.profiles,
                report.chunks_written,
            )
        return report

    async def run(self, stop: asyncio.Event) -> None:
        """Sleep a period, roll up, and again, until ``stop`` is set."""
        while not stop.is_set():
            sleeper = asyncio.ensure_future(self.clock.sleep(self.period_s))
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait((sleeper, stopper), return_when=asyncio.FIRST_COMPLETED)
            for task in (sleeper, stopper):
                task.cancel()
            await asyncio.gather(sleeper, stopper, return_exceptions=True)
            if stop.is_set():
                return
            try:
                await self.run_once()
            except Exception:
                self._failed.inc()
                log.exception("the history roll-up failed; the live rows wait for the next run")

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(self.run(stop), name="history-rollup")
        try:
            yield
        finally:
            stop.set()
            await task
