"""Adaptive concurrency limits: Gradient2 and Vegas grow and shrink with RTT, the windowed
wrapper averages samples, and the limiter hands out tokens up to the limit."""

from __future__ import annotations

import random

import pytest

from matinee.clock import FakeClock
from matinee.resilience.limits import (
    FixedLimit,
    Gradient2Limit,
    Limiter,
    VegasLimit,
    WindowedLimit,
    log10_root,
)
from matinee.telemetry.metrics import Registry


class Recorder:
    """A limit that records its samples."""

    def __init__(self, limit: int = 10) -> None:
        self._limit = limit
        self.samples: list[tuple[float, float, int, bool]] = []

    @property
    def limit(self) -> int:
        return self._limit

    def on_sample(self, start: float, rtt: float, inflight: int, did_drop: bool) -> None:
        self.samples.append((start, rtt, inflight, did_drop))


def test_gradient2_grows_while_rtt_is_steady_and_the_server_is_busy() -> None:
    limit = Gradient2Limit(initial_limit=20, min_limit=1, max_limit=100)
    for _ in range(10):
        limit.on_sample(0.0, 0.010, 20, False)
    # gradient 1: each sample moves the limit by smoothing * queue_size = 0.2 * 4
    assert limit.estimate == pytest.approx(28.0)
    assert limit.limit == 28
    assert limit.long_rtt == pytest.approx(0.010)


def test_gradient2_does_not_grow_when_the_application_limits_the_rate() -> None:
    limit = Gradient2Limit(initial_limit=20, min_limit=1)
    for _ in range(50):
        limit.on_sample(0.0, 0.010, 9, False)  # fewer than half of the limit in flight
    assert limit.limit == 20


def test_gradient2_shrinks_when_latency_rises() -> None:
    limit = Gradient2Limit(initial_limit=50, min_limit=5, max_limit=100)
    for _ in range(10):
        limit.on_sample(0.0, 0.010, 50, False)
    grown = limit.estimate
    assert grown == pytest.approx(58.0)
    limit.on_sample(0.0, 0.100, 60, False)
    # the long RTT barely moves, so the gradient clamps at 0.5: 0.8 L + 0.2 (0.5 L + 4)
    assert limit.estimate == pytest.approx(0.9 * grown + 0.8)
    for _ in range(200):
        limit.on_sample(0.0, 0.100, 60, False)
    assert limit.limit < 20
    assert limit.limit >= 5


def test_gradient2_respects_its_bounds() -> None:
    limit = Gradient2Limit(initial_limit=20, min_limit=10, max_limit=30)
    for _ in range(100):
        limit.on_sample(0.0, 0.010, 100, False)
    assert limit.limit == 30
    for _ in range(40):
        limit.on_sample(0.0, 1.0, 100, False)
    assert limit.limit == 10
    for _ in range(2000):  # a latency that lasts becomes the new baseline, and the limit regrows
        limit.on_sample(0.0, 1.0, 100, False)
    assert limit.limit == 30


def test_gradient2_forgets_a_long_overload_quickly() -> None:
    limit = Gradient2Limit(initial_limit=20, min_limit=1, long_window=600)
    for _ in range(10):
        limit.on_sample(0.0, 1.0, 20, False)
    assert limit.long_rtt == pytest.approx(1.0)
    limit.on_sample(0.0, 0.1, 20, False)
    # the long average is ten times the short one: it is pulled down by 10 % on top of
    # the exponential average
    f = 2.0 / 601
    assert limit.long_rtt == pytest.approx((1.0 * (1 - f) + 0.1 * f) * 0.9)


def test_gradient2_ignores_zero_rtt_and_takes_a_queue_function() -> None:
    limit = Gradient2Limit(initial_limit=20, min_limit=1, queue_size=lambda n: n / 10)
    limit.on_sample(0.0, 0.0, 20, False)
    assert limit.estimate == 20.0
    limit.on_sample(0.0, 0.010, 20, False)
    assert limit.estimate == pytest.approx(20 + 0.2 * 2.0)


def test_vegas_grows_without_queueing_and_shrinks_with_it() -> None:
    limit = VegasLimit(initial_limit=20, probe_multiplier=10_000, rng=random.Random(1))
    limit.on_sample(0.0, 0.010, 20, False)  # first sample sets the no-load RTT
    assert limit.rtt_noload == 0.010
    limit.on_sample(0.0, 0.010, 20, False)  # no queue: grow by beta = 6 * log10(20) = 6
    assert limit.limit == 26
    limit.on_sample(0.0, 0.020, 26, False)  # queue = ceil(26 * 0.5) = 13 > beta: shrink by 1
    assert limit.limit == 25
    limit.on_sample(0.0, 0.010, 25, True)  # a drop always shrinks
    assert limit.limit == 24
    limit.on_sample(0.0, 0.010, 5, False)  # app-limited: no change
    assert limit.limit == 24
    assert log10_root(5) == 1
    assert log10_root(150) == 2


def test_windowed_limit_feeds_one_averaged_sample_per_window() -> None:
    inner = Recorder()
    limit = WindowedLimit(inner, min_window=1.0, max_window=1.0, window_size=10)
    limit.on_sample(0.0, 0.010, 1, False)  # opens the first window; too few samples to report
    assert inner.samples == []
    for i in range(10):
        limit.on_sample(0.1 + i * 0.05, 0.010 * (i + 1), i + 1, i == 3)
    assert inner.samples == []  # the window has not ended yet
    limit.on_sample(1.5, 0.020, 2, False)
    assert len(inner.samples) == 1
    _, avg, inflight, dropped = inner.samples[0]
    assert avg == pytest.approx((0.010 * 55 + 0.020) / 11)
    assert (inflight, dropped) == (10, True)
    limit.on_sample(2.0, 0.00001, 3, False)  # under the minimum RTT: ignored
    assert limit.limit == 10


def test_limiter_admits_up_to_the_limit() -> None:
    clock = FakeClock()
    metrics = Registry(clock)
    limiter = Limiter(FixedLimit(2), clock, metrics=metrics, name="api")
    first = limiter.try_acquire()
    second = limiter.try_acquire()
    assert first is not None
    assert second is not None
    assert limiter.try_acquire() is None
    assert limiter.rejected == 1
    assert metrics.gauge("resilience.limit.inflight", limiter="api").value == 2
    assert metrics.gauge("resilience.limit", limiter="api").value == 2
    first.success()
    assert limiter.inflight == 1
    assert limiter.try_acquire() is not None


def test_tokens_report_rtt_once() -> None:
    clock = FakeClock()
    recorder = Recorder(limit=5)
    limiter = Limiter(recorder, clock)
    a = limiter.try_acquire()
    b = limiter.try_acquire()
    c = limiter.try_acquire()
    assert a is not None
    assert b is not None
    assert c is not None
    start = clock.monotonic()
    clock.advance(0.25)
    a.success()
    a.success()
    a.dropped()
    b.dropped(0.5)
    c.ignore()
    assert recorder.samples == [(start, 0.25, 1, False), (start, 0.5, 2, True)]
    assert limiter.inflight == 0


def test_limiter_follows_a_gradient2_limit() -> None:
    clock = FakeClock()
    limiter = Limiter(Gradient2Limit(initial_limit=4, min_limit=1, max_limit=50), clock)
    for _ in range(20):  # a busy server with steady latency: the limit opens up
        tokens = [limiter.try_acquire() for _ in range(limiter.limit)]
        clock.advance(0.01)
        for token in tokens:
            assert token is not None
            token.success()
    assert limiter.limit > 20
    high = limiter.limit
    for _ in range(40):  # latency climbs: the limit comes down
        tokens = [limiter.try_acquire() for _ in range(limiter.limit)]
        clock.advance(0.2)
        for token in tokens:
            assert token is not None
            token.success()
    assert limiter.limit < high / 2
