"""The in-memory time-series store, stepped by hand with a FakeClock."""

from __future__ import annotations

import asyncio

import pytest

from matinee.clock import FakeClock, SystemClock
from matinee.telemetry import QueryError, Registry, Series, SeriesStore

T0 = 1_000_000.0  # FakeClock's default start, a multiple of every step used here


def make(
    step: float = 10.0, retention: float = 3600.0, **kw: int
) -> tuple[FakeClock, Registry, SeriesStore]:
    clock = FakeClock(T0)
    registry = Registry(clock)
    return clock, registry, SeriesStore(registry, step=step, retention=retention, clock=clock, **kw)


def points(store: SeriesStore, name: str, **where: str) -> list[tuple[float, float]]:
    found = store.query(name, where)
    assert len(found) == 1
    return found[0].points


def test_counter_becomes_a_rate_per_second_over_the_step() -> None:
    clock, registry, store = make()
    counter = registry.counter("requests")
    counter.inc(50)
    clock.advance(10)
    assert store.sample() == 2  # requests and telemetry.series.dropped
    counter.inc(20)
    clock.advance(10)
    store.sample()
    assert points(store, "requests") == [(T0 + 10, 5.0), (T0 + 20, 2.0)]


def test_counter_existing_before_the_store_counts_from_its_value_then() -> None:
    clock = FakeClock(T0)
    registry = Registry(clock)
    registry.counter("old").inc(1000)
    store = SeriesStore(registry, step=10, clock=clock)
    registry.counter("old").inc(30)
    clock.advance(10)
    store.sample()
    assert points(store, "old") == [(T0 + 10, 3.0)]


def test_one_sample_per_step() -> None:
    clock, registry, store = make()
    registry.gauge("g").set(1)
    assert store.sample() == 0  # the construction step is already taken
    clock.advance(12)
    assert store.sample() > 0
    clock.advance(5)  # T0 + 17: same step as T0 + 12
    assert store.sample() == 0
    assert points(store, "g") == [(T0 + 10, 1.0)]


def test_missed_steps_leave_gaps_and_rates_cover_the_elapsed_time() -> None:
    clock, registry, store = make()
    counter = registry.counter("c")
    clock.advance(10)
    store.sample()
    counter.inc(30)
    clock.advance(30)
    store.sample()
    assert points(store, "c") == [(T0 + 10, 0.0), (T0 + 40, 1.0)]


def test_gauge_is_its_value_and_non_finite_values_are_skipped() -> None:
    clock, registry, store = make()
    gauge = registry.gauge("inflight", service="media")
    values = iter([3.0, float("nan"), float("inf"), 4.0])
    registry.gauge_fn("queue", lambda: next(values))
    for value in (1.0, 2.0, 2.0, 5.0):
        gauge.set(value)
        clock.advance(10)
        store.sample()
    assert [v for _, v in points(store, "inflight")] == [1.0, 2.0, 2.0, 5.0]
    assert points(store, "queue") == [(T0 + 10, 3.0), (T0 + 40, 4.0)]


def test_failing_gauge_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    clock, registry, store = make()
    registry.gauge_fn("broken", lambda: 1 / 0)
    clock.advance(10)
    store.sample()
    assert store.query("broken") == []
    assert "reading gauge broken" in caplog.text


def test_timer_becomes_count_total_max_and_percentile_series() -> None:
    clock, registry, store = make()
    timer = registry.timer("ipc.server.call", route="/a")
    timer.record(2.0)  # an earlier, slower call
    clock.advance(10)
    store.sample()
    for ms in range(1, 101):
        timer.record(ms / 1000)
    clock.advance(10)
    store.sample()
    clock.advance(10)
    store.sample()  # a step without calls

    def stat(statistic: str, **extra: str) -> list[float]:
        return [v for _, v in points(store, "ipc.server.call", statistic=statistic, **extra)]

    assert stat("count") == [0.1, 10.0, 0.0]
    assert stat("totalTime") == pytest.approx([0.2, 0.505, 0.0])
    assert stat("max")[0] == 2.0
    assert stat("max")[1] == pytest.approx(0.1, rel=0.06)  # estimated: the all-time max is older
    assert stat("max")[2] == 0.0
    p50 = stat("percentile", percentile="p50")
    p99 = stat("percentile", percentile="p99")
    assert len(p50) == len(p99) == 2  # no percentile for the step without calls
    assert p50[1] == pytest.approx(0.050, rel=0.06)
    assert p99[1] == pytest.approx(0.099, rel=0.06)
    assert set(store.tags("ipc.server.call")["statistic"]) == {
        "count",
        "totalTime",
        "max",
        "percentile",
    }
    assert store.tags("ipc.server.call")["percentile"] == ["p50", "p90", "p99"]


def test_timer_step_max_is_exact_when_it_is_the_all_time_max() -> None:
    clock, registry, store = make()
    timer = registry.timer("t")
    timer.record(0.5)
    clock.advance(10)
    store.sample()
    timer.record(0.7)
    timer.record(0.1)
    clock.advance(10)
    store.sample()
    assert [v for _, v in points(store, "t", statistic="max")] == [0.5, 0.7]


def load(registry: Registry) -> None:
    """Counts per 10 s step: a:/x 10, a:/y 20, b:/x 40, and one without a route 80."""
    registry.counter("calls", service="a", route="/x").inc(10)
    registry.counter("calls", service="a", route="/y").inc(20)
    registry.counter("calls", service="b", route="/x").inc(40)
    registry.counter("calls", service="c").inc(80)


def test_query_filters_groups_and_aggregates() -> None:
    clock, registry, store = make()
    load(registry)
    clock.advance(10)
    store.sample()
    t = T0 + 10

    assert store.query("calls") == [Series({}, [(t, 15.0)])]
    assert store.query("calls", {"service": "a"}) == [Series({}, [(t, 3.0)])]
    assert store.query("calls", {"service": "a", "route": "/y"}, agg="max") == [
        Series({}, [(t, 2.0)])
    ]
    assert store.query("calls", group_by=["route"]) == [
        Series({"route": "/x"}, [(t, 5.0)]),
        Series({"route": "/y"}, [(t, 2.0)]),
    ]
    assert store.query("calls", group_by=["service", "route"], agg="count") == [
        Series({"service": "a", "route": "/x"}, [(t, 1.0)]),
        Series({"service": "a", "route": "/y"}, [(t, 1.0)]),
        Series({"service": "b", "route": "/x"}, [(t, 1.0)]),
    ]
    assert store.query("calls", group_by=["service"], agg="avg")[0] == Series(
        {"service": "a"}, [(t, 1.5)]
    )
    assert store.query("calls", agg="min") == [Series({}, [(t, 1.0)])]
    assert store.query("calls", agg="count") == [Series({}, [(t, 4.0)])]
    assert store.query("calls", {"service": "nope"}) == []
    assert store.query("nothing") == []


def test_query_time_range() -> None:
    clock, registry, store = make()
    gauge = registry.gauge("g")
    for i in range(6):
        gauge.set(i)
        clock.advance(10)
        store.sample()
    found = store.query("g", start=T0 + 20, end=T0 + 40)
    assert found == [Series({}, [(T0 + 20, 1.0), (T0 + 30, 2.0), (T0 + 40, 3.0)])]
    assert store.query("g", start=T0 + 21, end=T0 + 29) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, "name is empty"),
        ({"agg": "median"}, "unknown aggregation 'median'"),
        ({"group_by": [""]}, "empty tag key"),
        ({"start": T0 + 20, "end": T0 + 10}, "start is after end"),
        ({"start": float("nan")}, "finite"),
    ],
)
def test_bad_queries_raise_in_plain_words(kwargs: dict[str, object], message: str) -> None:
    _, _, store = make()
    args: dict[str, object] = {"name": "calls", **kwargs}
    with pytest.raises(QueryError, match=message):
        store.query(**args)  # type: ignore[arg-type]


def test_each_series_keeps_only_the_retention() -> None:
    clock, registry, store = make(step=10, retention=60)
    gauge = registry.gauge("g")
    for i in range(20):
        gauge.set(i)
        clock.advance(10)
        store.sample()
    assert store.capacity == 6
    assert [v for _, v in points(store, "g")] == [14.0, 15.0, 16.0, 17.0, 18.0, 19.0]


def test_ring_forgets_old_laps_after_a_long_pause() -> None:
    clock, registry, store = make(step=10, retention=60)
    gauge = registry.gauge("g")
    for i in range(6):
        gauge.set(i)
        clock.advance(10)
        store.sample()
    clock.advance(40)  # four steps missed: those slots of the ring must not show old values
    gauge.set(99)
    store.sample()
    assert points(store, "g") == [(T0 + 50, 4.0), (T0 + 60, 5.0), (T0 + 100, 99.0)]


def test_series_of_a_removed_meter_is_dropped_after_the_retention() -> None:
    clock, registry, store = make(step=10, retention=60)
    gauge = registry.gauge("instance.up", instance="i-1")
    clock.advance(10)
    store.sample()
    registry.remove(gauge.id)
    for _ in range(5):
        clock.advance(10)
        store.sample()
    assert "instance.up" in store.names()  # still inside the retention
    clock.advance(10)
    store.sample()
    assert "instance.up" not in store.names()
    assert store.tags("instance.up") == {}


def test_series_count_is_capped_and_the_overflow_counted() -> None:
    clock, registry, store = make(max_series=3)
    for i in range(5):
        registry.gauge("g", n=str(i)).set(i)
    clock.advance(10)
    store.sample()
    assert store.series_count == 3
    assert registry.counter("telemetry.series.dropped").value == 3  # 2 gauges + the counter itself


def test_names_and_tags() -> None:
    clock, registry, store = make()
    load(registry)
    clock.advance(10)
    store.sample()
    assert store.names() == ["calls", "telemetry.series.dropped"]
    assert store.tags("calls") == {"route": ["/x", "/y"], "service": ["a", "b", "c"]}


def test_run_samples_at_each_step_until_stopped() -> None:
    _, registry, store = make()
    counter = registry.counter("c")

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(store.run(stop))
        while len(store.query("c")[0].points if store.query("c") else []) < 3:
            counter.inc(10)
            await asyncio.sleep(0)
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(main())
    stamps = [t for t, _ in points(store, "c")]
    assert stamps[:3] == [T0 + 10, T0 + 20, T0 + 30]


def test_run_stops_without_waiting_for_the_step() -> None:
    registry = Registry(SystemClock())
    store = SeriesStore(registry, step=3600, retention=3600)

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(store.run(stop))
        await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 2)

    asyncio.run(main())


def test_store_rejects_a_bad_shape() -> None:
    registry = Registry(FakeClock())
    with pytest.raises(ValueError, match="step"):
        SeriesStore(registry, step=0)
    with pytest.raises(ValueError, match="retention"):
        SeriesStore(registry, step=10, retention=5)
