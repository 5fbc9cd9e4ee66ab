"""The history store's contract, run on every backend (SQLite and a real Cassandra node).

Time comes from a FakeClock: events carry its timestamps and roll-ups cut at
``clock.time() - age``. Cassandra tests use ``delete_margin_s=0`` unless they test the margin
(no request is in flight when a test rolls up).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace

import pytest

from matinee.clock import FakeClock
from matinee.history import (
    HistoryStore,
    InvalidCursor,
    ViewingEvent,
    open_history_store,
)

Body = Callable[[HistoryStore], Awaitable[None]]
HOUR = 3600.0
DAY_S = 86_400.0


def run(url: str, body: Body, options: str = "delete_margin_s=0") -> None:
    async def main() -> None:
        store = open_history_store(f"{url}?{options}" if options else url)
        async with store:
            await body(store)

    asyncio.run(main())


def profile() -> str:
    return f"p-{uuid.uuid4().hex[:12]}"


class Player:
    """Makes a profile's events ten seconds apart on a fake clock."""

    def __init__(self, profile_id: str, clock: FakeClock) -> None:
        self.profile_id = profile_id
        self.clock = clock
        self.n = 0

    def watch(
        self, title: str, count: int, *, start: float = 0.0, duration: float = 3000.0
    ) -> list[ViewingEvent]:
        events = []
        for i in range(count):
            self.n += 1
            self.clock.advance(10)
            events.append(
                ViewingEvent(
                    self.profile_id,
                    f"{self.profile_id}-{self.n}",
                    self.clock.time(),
                    title,
                    kind="heartbeat",
                    position_s=start + 10 * i,
                    duration_s=duration,
                    device="tv",
                    rendition="1080p",
                    bitrate=5_000_000,
                    buffer_s=12.5,
                    rebuffers=i % 2,
                )
            )
        return events


async def all_history(store: HistoryStore, profile_id: str, limit: int) -> list[ViewingEvent]:
    items: list[ViewingEvent] = []
    cursor: str | None = None
    while True:
        page = await store.history(profile_id, limit=limit, cursor=cursor)
        assert len(page.items) <= limit
        items += page.items
        cursor = page.next_cursor
        if cursor is None:
            return items


def test_latest_positions_are_the_newest_state_of_each_title(history_url: str) -> None:
    async def body(store: HistoryStore) -> None:
        p = Player(profile(), FakeClock())
        await store.append(p.watch("movie", 3) + p.watch("episode-1", 2, start=2900))
        await store.append(p.watch("movie", 1, start=500))
        states = await store.latest_positions(p.profile_id)
        assert [(s.title_id, s.position_s) for s in states] == [("movie", 500), ("episode-1", 2910)]
        assert [s.finished for s in states] == [False, True]  # 2910 of 3000 s is past 95 %
        assert await store.latest_positions(profile()) == []

    run(history_url, body)


def test_an_explicit_finish_counts(history_url: str) -> None:
    async def body(store: HistoryStore) -> None:
        p = Player(profile(), FakeClock())
        stop = p.watch("doc", 1, start=60)[0]
        done = replace(stop, kind="stop", finished=True)
        await store.append([done])
        bookmark = await store.bookmark(p.profile_id, "doc")
        assert bookmark is not None
        assert (bookmark.position_s, bookmark.finished) == (60, True)

    run(history_url, body)


def test_a_retried_batch_is_stored_once(history_url: str) -> None:
    async def body(store: HistoryStore) -> None:
        p = Player(profile(), FakeClock())
        batch = p.watch("movie", 5)
        await store.append(batch)
        await store.append(batch)
        await store.append(batch[2:])
        items = await all_history(store, p.profile_id, 100)
        assert [e.event_id for e in items] == [e.event_id for e in reversed(batch)]
        assert items[0] == batch[-1]  # every field round-trips

    run(history_url, body)


def test_a_large_batch_with_repeats_inside_is_stored_whole_and_once(history_url: str) -> None:
    # Larger than one multi-row statement on SQLite (500 rows) and not a multiple of it, with
    # events repeated inside the batch, as a client's retry can be gathered with its original.
    async def body(store: HistoryStore) -> None:
        players = [Player(profile(), FakeClock()) for _ in range(3)]
        batch = [e for p in players for e in p.watch("movie", 401)]
        await store.append(batch + batch[:700] + batch[1000:1010])
        for p in players:
            mine = [e for e in batch if e.profile_id == p.profile_id]
            items = await all_history(store, p.profile_id, 500)
            assert items == list(reversed(mine))

    run(history_url, body)


def test_history_pages_newest_first_with_opaque_cursors(history_url: str) -> None:
    async def body(store: HistoryStore) -> None:
        p = Player(profile(), FakeClock())
        events = p.watch("a", 25) + p.watch("b", 20)
        await store.append(events)
        first = await store.history(p.profile_id, limit=10)
        assert [e.event_id for e in first.items] == [e.event_id for e in events[::-1][:10]]
        assert first.next_cursor is not None
        items = await all_history(store, p.profile_id, 7)
        assert [e.event_id for e in items] == [e.event_id for e in reversed(events)]
        last = await store.history(p.profile_id, limit=100)
        assert len(last.items) == 45
        assert last.next_cursor is None
        with pytest.raises(InvalidCursor, match="cursor"):
            await store.history(p.profile_id, cursor="not-a-cursor")

    run(history_url, body)


def test_bookmark_is_the_latest_position_in_one_title(history_url: str) -> None:
    async def body(store: HistoryStore) -> None:
        p = Player(profile(), FakeClock())
        await store.append(p.watch("a", 4) + p.watch("b", 2) + p.watch("a", 1, start=900))
        a = await store.bookmark(p.profile_id, "a")
        b = await store.bookmark(p.profile_id, "b")
        assert a is not None
        assert b is not None
        assert (a.position_s, b.position_s) == (900, 10)
        assert await store.bookmark(p.profile_id, "never") is None

    run(history_url, body)


def test_reads_are_the_same_before_and_after_a_roll_up(history_url: str) -> None:
    async def body(store: HistoryStore) -> None:
        clock = FakeClock()
        p = Player(profile(), clock)
        await store.append(p.watch("a", 120) + p.watch("b", 60))
        clock.advance(2 * HOUR)
        await store.append(p.watch("c", 15) + p.watch("a", 3, start=1200))
        before = (
            await all_history(store, p.profile_id, 33),
            await store.latest_positions(p.profile_id),
            await store.bookmark(p.profile_id, "b"),
        )
        report = await store.roll_up(clock.time() - HOUR, profile_id=p.profile_id)
        assert (report.profiles, report.events, report.chunks_written) == (1, 180, 2)
        after = (
            await all_history(store, p.profile_id, 33),
            await store.latest_positions(p.profile_id),
            await store.bookmark(p.profile_id, "b"),
        )
        assert after == before
        again = await store.roll_up(clock.time() - HOUR, profile_id=p.profile_id)
        assert again.events == 0

    run(history_url, body, "delete_margin_s=0&chunk_events=100")


def test_a_heavy_profile_reads_summary_rows_not_chunks(history_url: str) -> None:
    async def body(store: HistoryStore) -> None:
        clock = FakeClock()
        heavy, light = Player(profile(), clock), Player(profile(), clock)
        for n in range(40):  # 40 titles x 100 events, then rolled up: 40 chunks
            await store.append(heavy.watch(f"title-{n}", 100))
        clock.advance(2 * HOUR)
        await store.roll_up(clock.time() - HOUR, profile_id=heavy.profile_id)
        await store.append(heavy.watch("recent", 5) + light.watch("recent", 5))

        costs = []
        for who in (heavy, light):
            mark = store.stats.snapshot()
            states = await store.latest_positions(who.profile_id)
            bookmark = await store.bookmark(who.profile_id, "recent")
            assert bookmark is not None
            assert bookmark.position_s == 40
            costs.append((len(states), store.stats.since(mark)))
        (heavy_titles, heavy_cost), (light_titles, light_cost) = costs
        assert (heavy_titles, light_titles) == (41, 1)
        assert heavy_cost.chunks == light_cost.chunks == 0
        assert heavy_cost.live_rows == light_cost.live_rows == 10  # 5 per read, both reads
        assert heavy_cost.queries == light_cost.queries
        assert (heavy_cost.summaries, light_cost.summaries) == (1, 0)
        old = await store.bookmark(heavy.profile_id, "title-3")  # from its per-title row
        assert old is not None
        assert old.position_s == 990

    run(history_url, body, "delete_margin_s=0&chunk_events=100")


def test_the_summary_keeps_the_most_recent_titles_and_bookmarks_keep_all(history_url: str) -> None:
    async def body(store: HistoryStore) -> None:
        clock = FakeClock()
        p = Player(profile(), clock)
        for n in range(6):
            await store.append(p.watch(f"t{n}", 2))
        clock.advance(2 * HOUR)
        await store.roll_up(clock.time() - HOUR, profile_id=p.profile_id)
        states = await store.latest_positions(p.profile_id)
        assert [s.title_id for s in states] == ["t5", "t4", "t3"]
        oldest = await store.bookmark(p.profile_id, "t0")
        assert oldest is not None
        assert oldest.position_s == 10
        await store.append(p.watch("t0", 1, start=500))  # a live row brings an old title back
        newest = await store.latest_positions(p.profile_id, 2)
        assert [(s.title_id, s.position_s) for s in newest] == [("t0", 500), ("t5", 10)]

    run(history_url, body, "delete_margin_s=0&summary_titles=3")


def test_roll_ups_refill_the_newest_chunk_and_a_late_event_lands_in_order(
    history_url: str,
) -> None:
    async def body(store: HistoryStore) -> None:
        clock = FakeClock()
        p = Player(profile(), clock)
        first = p.watch("a", 30)
        await store.append(first)
        for _ in range(3):
            clock.advance(2 * HOUR)
            await store.roll_up(clock.time() - HOUR, profile_id=p.profile_id)
            await store.append(p.watch("a", 30))
        mark = store.stats.snapshot()
        page = await store.history(p.profile_id, limit=100)
        assert len(page.items) == 100
        assert store.stats.since(mark).chunks == 1  # 90 rolled-up events share one chunk

        late = replace(first[10], event_id="late", at=first[10].at + 1)
        await store.append([late])
        assert "late" not in [e.event_id for e in await all_history(store, p.profile_id, 50)]
        clock.advance(2 * HOUR)
        await store.roll_up(clock.time() - HOUR, profile_id=p.profile_id)
        items = await all_history(store, p.profile_id, 50)
        keys = [e.key for e in items]
        assert keys == sorted(keys, reverse=True)
        assert len(items) == 121
        assert len({e.event_id for e in items}) == 121
        # The late event is older than the title's newest state: the bookmark keeps the newest.
        bookmark = await store.bookmark(p.profile_id, "a")
        assert bookmark is not None
        assert bookmark.event_id == items[0].event_id

    run(history_url, body, "delete_margin_s=0&chunk_events=100")


def test_a_batch_retried_after_its_roll_up_is_not_counted_twice(history_url: str) -> None:
    async def body(store: HistoryStore) -> None:
        clock = FakeClock()
        p = Player(profile(), clock)
        batch = p.watch("a", 12)
        await store.append(batch)
        clock.advance(2 * HOUR)
        await store.roll_up(clock.time() - HOUR, profile_id=p.profile_id)
        await store.append(batch)  # the client never saw the acknowledgement
        assert len(await all_history(store, p.profile_id, 5)) == 12
        clock.advance(2 * HOUR)
        report = await store.roll_up(clock.time() - HOUR, profile_id=p.profile_id)
        assert report.events == 12
        assert len(await all_history(store, p.profile_id, 5)) == 12
        assert len(await store.latest_positions(p.profile_id)) == 1

    # With the default margin (60 s), Cassandra's roll-up leaves just-written rows behind.
    run(history_url, body, "")


def test_a_roll_up_of_every_profile_takes_only_old_rows(history_url: str) -> None:
    async def body(store: HistoryStore) -> None:
        clock = FakeClock(start=5_000_000.0 + uuid.uuid4().int % 1000)
        old, fresh = Player(profile(), clock), Player(profile(), clock)
        await store.append(old.watch("a", 3))
        clock.advance(2 * HOUR)
        await store.append(fresh.watch("b", 3))
        report = await store.roll_up(clock.time() - HOUR)
        assert report.events >= 3  # other tests' profiles may be rolled up too
        mark = store.stats.snapshot()
        assert len((await store.history(old.profile_id)).items) == 3
        assert store.stats.since(mark).chunks == 1
        mark = store.stats.snapshot()
        assert len((await store.history(fresh.profile_id)).items) == 3
        assert store.stats.since(mark).chunks == 0

    run(history_url, body)


def test_starts_count_plays_per_country_and_day(history_url: str) -> None:
    async def body(store: HistoryStore) -> None:
        # A country code of this test's own: Cassandra tests share one keyspace.
        country = "Q" + uuid.uuid4().hex[:1].upper()
        base = 20_000 * DAY_S + 3600.0  # an hour into UTC day 20000

        def start(n: int, title: str, day: int, where: str = country) -> ViewingEvent:
            return ViewingEvent(
                profile(), f"start-{n}", base + day * DAY_S + n, title, "start", country=where
            )

        today = [start(i, "hit", 0) for i in range(3)] + [start(3, "niche", 0)]
        older = [start(4, "niche", -3), start(5, "niche", -3), start(6, "old", -9)]
        heartbeat = replace(start(7, "hit", 0), kind="heartbeat")
        elsewhere = start(8, "hit", 0, where="ZZ")
        await store.append([*today, *older, heartbeat, elsewhere])

        week = await store.popular(country, first_day=19_994, last_day=20_000, limit=10)
        assert [(c.title_id, c.plays) for c in week] == [("hit", 3), ("niche", 3)]  # ties: by id
        day = await store.popular(country, first_day=20_000, last_day=20_000, limit=10)
        assert [(c.title_id, c.plays) for c in day] == [("hit", 3), ("niche", 1)]
        top = await store.popular(country, first_day=19_990, last_day=20_000, limit=1)
        assert [(c.title_id, c.plays) for c in top] == [("hit", 3)]
        unseen = "QZ"  # never made above: hex digits stop at F
        assert await store.popular(unseen, first_day=19_990, last_day=20_000, limit=5) == []
        if store.backend == "sqlite":  # counters are not idempotent on Cassandra (documented)
            await store.append(today)
            again = await store.popular(country, first_day=20_000, last_day=20_000, limit=10)
            assert again == day

    run(history_url, body)
