"""Group commit: concurrent requests share writes, and each is answered only after its write."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from matinee.clock import FakeClock
from matinee.history import HistoryUnavailable, ViewingEvent
from matinee.history.sqlite import SqliteHistoryStore
from matinee.services.history.errors import IngestOverloaded
from matinee.services.history.writer import GroupCommitWriter
from matinee.telemetry.metrics import Registry


class CountingStore(SqliteHistoryStore):
    """The real SQLite store, counting its writes (and failing them on request)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.writes: list[int] = []
        self.fail = False
        self.gate: asyncio.Event | None = None

    async def append(self, events: Sequence[ViewingEvent]) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise HistoryUnavailable("the disk is full")
        await super().append(events)
        self.writes.append(len(events))


def events(profile: str, n: int, first: int = 0) -> list[ViewingEvent]:
    return [
        ViewingEvent(profile, f"{profile}-{i}", 1000.0 + i, "title", position_s=float(i))
        for i in range(first, first + n)
    ]


def writer_for(store: CountingStore, **kwargs: int) -> GroupCommitWriter:
    return GroupCommitWriter(store, clock=FakeClock(), metrics=Registry(FakeClock()), **kwargs)


def test_concurrent_requests_share_commits_and_all_are_durable(tmp_path: Path) -> None:
    async def main() -> None:
        store = CountingStore(tmp_path / "h.db")
        async with store:
            writer = writer_for(store)
            async with writer.running():
                await asyncio.gather(*(writer.submit(events(f"p{i}", 3)) for i in range(200)))
            assert sum(store.writes) == 600
            assert len(store.writes) < 20  # 200 requests, a handful of commits
            for i in (0, 199):
                assert len((await store.history(f"p{i}")).items) == 3

    asyncio.run(main())


def test_batches_stop_at_max_batch_without_splitting_a_request(tmp_path: Path) -> None:
    async def main() -> None:
        store = CountingStore(tmp_path / "h.db")
        async with store:
            store.gate = asyncio.Event()
            writer = writer_for(store, max_batch=10)
            async with writer.running():
                waiting = [asyncio.create_task(writer.submit(events(f"p{i}", 4))) for i in range(6)]
                await asyncio.sleep(0.01)
                store.gate.set()
                await asyncio.gather(*waiting)
            # six requests of 4 queued at once: two per write (a third would pass 10)
            assert store.writes == [8, 8, 8]

    asyncio.run(main())


def test_a_failed_write_fails_every_request_in_it_and_the_writer_lives_on(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        store = CountingStore(tmp_path / "h.db")
        async with store:
            writer = writer_for(store)
            async with writer.running():
                store.fail = True
                results = await asyncio.gather(
                    *(writer.submit(events(f"p{i}", 2)) for i in range(5)), return_exceptions=True
                )
                assert all(isinstance(r, HistoryUnavailable) for r in results)
                store.fail = False
                await writer.submit(events("p0", 2))  # the retry succeeds
            assert (await store.history("p0")).items[0].event_id == "p0-1"

    asyncio.run(main())


def test_a_backlog_beyond_max_pending_is_refused_at_once(tmp_path: Path) -> None:
    async def main() -> None:
        store = CountingStore(tmp_path / "h.db")
        async with store:
            store.gate = asyncio.Event()
            writer = writer_for(store, max_pending=10)
            async with writer.running():
                first = asyncio.create_task(writer.submit(events("a", 2)))
                await asyncio.sleep(0.01)  # the flusher holds it (gate closed)
                queued = asyncio.create_task(writer.submit(events("b", 8)))
                await asyncio.sleep(0)
                with pytest.raises(IngestOverloaded, match="retry"):
                    await writer.submit(events("c", 3))
                store.gate.set()
                await asyncio.gather(first, queued)

    asyncio.run(main())


def test_stopping_writes_what_is_queued_and_then_refuses(tmp_path: Path) -> None:
    async def main() -> None:
        store = CountingStore(tmp_path / "h.db")
        async with store:
            writer = writer_for(store, flushers=3)
            writer.start()
            pending = [asyncio.create_task(writer.submit(events(f"p{i}", 1))) for i in range(30)]
            await asyncio.sleep(0)
            await writer.stop()
            await asyncio.gather(*pending)
            assert sum(store.writes) == 30
            with pytest.raises(HistoryUnavailable, match="not running"):
                await writer.submit(events("late", 1))

    asyncio.run(main())
