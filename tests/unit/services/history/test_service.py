"""The history service's logic on the embedded store, with a fake clock and a fixed episode map."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from matinee.clock import FakeClock
from matinee.history import InvalidCursor
from matinee.history.sqlite import SqliteHistoryStore
from matinee.services.history.errors import BookmarkNotFound, EventOutOfRange
from matinee.services.history.rollup import RollupLoop
from matinee.services.history.schemas import ViewingEventIn
from matinee.services.history.service import HistoryService
from matinee.services.history.writer import GroupCommitWriter
from matinee.telemetry.metrics import Registry

HOUR = 3600.0


class Episodes:
    """A series' episode order, as the catalog would tell it."""

    def __init__(self, order: dict[str, str]) -> None:
        self.order = order
        self.asked: list[str] = []

    async def next_episode(self, title_id: str) -> str | None:
        self.asked.append(title_id)
        return self.order.get(title_id)


Body = Callable[[HistoryService, FakeClock], Awaitable[None]]


def run(tmp_path: Path, body: Body, episodes: Episodes | None = None) -> None:
    async def main() -> None:
        clock = FakeClock(start=1_700_000_000.0)
        metrics = Registry(clock)
        store = SqliteHistoryStore(tmp_path / "history.db")
        async with store:
            writer = GroupCommitWriter(store, clock=clock, metrics=metrics)
            service = HistoryService(store, writer, episodes or Episodes({}), clock, metrics)
            async with writer.running():
                await body(service, clock)

    asyncio.run(main())


def beat(clock: FakeClock, title: str, position: float, n: int, **extra: object) -> ViewingEventIn:
    fields: dict[str, object] = {
        "event_id": f"{title}-{n}",
        "title_id": title,
        "position_s": position,
        "duration_s": 1000.0,
        "client_ts": clock.time(),
        "device": "tv",
        **extra,
    }
    return ViewingEventIn.model_validate(fields)


def test_continue_watching_hides_finished_titles_and_offers_next_episodes(
    tmp_path: Path,
) -> None:
    episodes = Episodes({"s1e1": "s1e2", "s1e2": "s1e3", "movie": ""})

    async def body(service: HistoryService, clock: FakeClock) -> None:
        await service.record("p", [beat(clock, "movie", 990, 1)])  # 99 %: finished
        clock.advance(60)
        await service.record("p", [beat(clock, "s1e1", 100, 1, kind="stop", finished=True)])
        clock.advance(60)
        await service.record("p", [beat(clock, "doc", 300, 1)])
        page = await service.continue_watching("p")
        assert [(i.title_id, i.kind) for i in page.items] == [
            ("doc", "resume"),
            ("s1e2", "next_episode"),
        ]
        assert page.items[0].progress == pytest.approx(0.3)
        assert page.items[1].after_title_id == "s1e1"
        assert page.next_cursor is None
        # Once the next episode is being watched, it is offered as a resume, not twice.
        clock.advance(60)
        await service.record("p", [beat(clock, "s1e2", 50, 1)])
        page = await service.continue_watching("p")
        assert [(i.title_id, i.kind) for i in page.items] == [
            ("s1e2", "resume"),
            ("doc", "resume"),
        ]

    run(tmp_path, body, episodes)


def test_continue_watching_pages_with_a_cursor(tmp_path: Path) -> None:
    async def body(service: HistoryService, clock: FakeClock) -> None:
        for n in range(7):
            clock.advance(10)
            await service.record("p", [beat(clock, f"t{n}", 10, 1)])
        first = await service.continue_watching("p", limit=3)
        assert [i.title_id for i in first.items] == ["t6", "t5", "t4"]
        assert first.next_cursor is not None
        second = await service.continue_watching("p", limit=3, cursor=first.next_cursor)
        assert [i.title_id for i in second.items] == ["t3", "t2", "t1"]
        assert second.next_cursor is not None
        last = await service.continue_watching("p", limit=3, cursor=second.next_cursor)
        assert ([i.title_id for i in last.items], last.next_cursor) == (["t0"], None)
        with pytest.raises(InvalidCursor, match="cursor"):
            await service.continue_watching("p", cursor="bogus!")

    run(tmp_path, body)


def test_events_far_in_the_future_or_past_are_refused_naming_the_field(tmp_path: Path) -> None:
    async def body(service: HistoryService, clock: FakeClock) -> None:
        ahead = beat(clock, "t", 1, 1).model_copy(update={"client_ts": clock.time() + 3600})
        with pytest.raises(EventOutOfRange, match=r"events\.1\.client_ts"):
            await service.record("p", [beat(clock, "t", 1, 2), ahead])
        stale = beat(clock, "t", 1, 1).model_copy(update={"client_ts": clock.time() - 2 * 86400})
        with pytest.raises(EventOutOfRange, match=r"events\.0\.client_ts: older"):
            await service.record("p", [stale])
        assert (await service.history("p")).items == []  # nothing of a refused batch is kept

    run(tmp_path, body)


def test_bookmarks_and_history_read_what_was_recorded(tmp_path: Path) -> None:
    async def body(service: HistoryService, clock: FakeClock) -> None:
        batch = [beat(clock, "t", 10 * n, n) for n in range(1, 4)]
        assert await service.record("p", batch) == 3
        assert await service.record("p", batch) == 3  # a retry: acknowledged, stored once
        bookmark = await service.bookmark("p", "t")
        assert (bookmark.position_s, bookmark.finished) == (30, False)
        page = await service.history("p", limit=2)
        assert [i.event_id for i in page.items] == ["t-3", "t-2"]
        rest = await service.history("p", limit=2, cursor=page.next_cursor)
        assert ([i.event_id for i in rest.items], rest.next_cursor) == (["t-1"], None)
        assert rest.items[0].client_ts == clock.time()
        with pytest.raises(BookmarkNotFound):
            await service.bookmark("p", "other")

    run(tmp_path, body)


def test_the_roll_up_loop_runs_every_period_on_the_clock(tmp_path: Path) -> None:
    async def body(service: HistoryService, clock: FakeClock) -> None:
        await service.record("p", [beat(clock, "t", 10, 1)])
        metrics = Registry(clock)
        loop = RollupLoop(service.store, clock, metrics, period_s=600, age_s=HOUR)
        rolled = metrics.counter("history.rollup.events")
        async with loop.running():
            for _ in range(1000):  # FakeClock.sleep moves time on by a period at each turn
                if rolled.value >= 1:
                    break
                await asyncio.sleep(0.01)
        runs = metrics.counter("history.rollup.runs").value
        assert runs >= HOUR / 600  # nothing was old enough for the first hour of periods
        assert (await service.bookmark("p", "t")).position_s == 10

    run(tmp_path, body)
