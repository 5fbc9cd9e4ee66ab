"""The circuit breaker, on a fake clock: Hystrix's trip rules, sleep window and single trial,
the rolling window, and resilience4j's slow-call trip."""

from __future__ import annotations

import pytest

from matinee.clock import FakeClock
from matinee.resilience.breaker import BreakerConfig, BreakerState, CircuitBreaker
from matinee.telemetry.metrics import Registry


def make(config: BreakerConfig | None = None) -> tuple[CircuitBreaker, FakeClock, Registry]:
    clock = FakeClock()
    metrics = Registry(clock)
    return CircuitBreaker("catalog", config, clock=clock, metrics=metrics), clock, metrics


def state(breaker: CircuitBreaker) -> BreakerState:
    """The state, read through a call so that mypy does not narrow it between reads."""
    return breaker.state


def feed(breaker: CircuitBreaker, successes: int, failures: int, duration: float = 0.0) -> None:
    for _ in range(successes):
        assert breaker.try_acquire()
        breaker.record_success(duration)
    for _ in range(failures):
        assert breaker.try_acquire()
        breaker.record_failure(duration)


def trip(breaker: CircuitBreaker) -> None:
    feed(breaker, 0, 20)
    assert state(breaker) is BreakerState.OPEN


def test_defaults_are_hystrix() -> None:
    cfg = BreakerConfig()
    assert (cfg.window_s, cfg.buckets, cfg.bucket_s) == (10.0, 10, 1.0)
    assert (cfg.request_volume_threshold, cfg.error_threshold_pct, cfg.sleep_window_s) == (
        20,
        50.0,
        5.0,
    )
    assert cfg.slow_call_duration_s is None
    assert cfg.slow_call_rate_threshold_pct == 100.0


def test_trips_at_exactly_twenty_requests_and_fifty_percent() -> None:
    breaker, _, _ = make()
    feed(breaker, 10, 9)
    assert state(breaker) is BreakerState.CLOSED  # 19 requests: below the volume threshold
    feed(breaker, 0, 1)
    assert state(breaker) is BreakerState.OPEN  # 10 of 20 failed = 50 %


def test_no_trip_at_nineteen_requests_even_if_all_failed() -> None:
    breaker, _, _ = make()
    feed(breaker, 0, 19)
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.try_acquire()


def test_no_trip_just_below_fifty_percent() -> None:
    breaker, _, _ = make()
    feed(breaker, 11, 9)
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.snapshot()["error_pct"] == 45.0


def test_a_success_can_complete_the_volume_that_trips() -> None:
    breaker, _, _ = make()
    feed(breaker, 0, 19)
    feed(breaker, 1, 0)  # 19 of 20 failed
    assert state(breaker) is BreakerState.OPEN


def test_timeouts_and_rejections_count_as_errors() -> None:
    breaker, _, _ = make()
    feed(breaker, 10, 0)
    for _ in range(5):
        breaker.record_failure(1.0, cause="timeout")
    for _ in range(4):
        breaker.record_failure(0.0, cause="rejected")
    assert state(breaker) is BreakerState.CLOSED
    breaker.record_failure(0.0, cause="timeout")
    assert state(breaker) is BreakerState.OPEN
    snap = breaker.snapshot()
    assert (snap["timeouts"], snap["rejected"], snap["errors"], snap["requests"]) == (6, 4, 10, 20)


def test_sleep_window_then_exactly_one_trial() -> None:
    breaker, clock, _ = make()
    trip(breaker)
    assert not breaker.try_acquire()
    clock.advance(4.999)
    assert not breaker.try_acquire()
    clock.advance(0.001)
    assert breaker.try_acquire()  # the trial
    assert state(breaker) is BreakerState.HALF_OPEN
    for _ in range(10):
        assert not breaker.try_acquire()
    clock.advance(60.0)
    assert not breaker.try_acquire()  # still only the one trial, however long it takes


def test_trial_success_closes_and_clears_the_window() -> None:
    breaker, clock, _ = make()
    trip(breaker)
    clock.advance(5.0)
    assert breaker.try_acquire()
    clock.advance(0.01)
    breaker.record_success(0.01)
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.snapshot()["requests"] == 0
    feed(breaker, 0, 19)  # the old failures are gone: it takes a fresh 20 to trip again
    assert state(breaker) is BreakerState.CLOSED


def test_trial_failure_reopens_for_another_sleep_window() -> None:
    breaker, clock, _ = make()
    trip(breaker)
    clock.advance(5.0)
    assert breaker.try_acquire()
    clock.advance(0.01)
    breaker.record_failure(0.01)
    assert state(breaker) is BreakerState.OPEN
    clock.advance(4.9)
    assert not breaker.try_acquire()
    clock.advance(0.1)
    assert breaker.try_acquire()
    assert state(breaker) is BreakerState.HALF_OPEN


def test_a_call_begun_before_half_open_does_not_decide() -> None:
    breaker, clock, _ = make()
    assert breaker.try_acquire()  # a long call starts while closed
    trip(breaker)
    clock.advance(5.0)
    assert breaker.try_acquire()  # the trial
    breaker.record_success(5.0)  # the long call ends: it began before the half-open state
    assert state(breaker) is BreakerState.HALF_OPEN
    breaker.record_success(0.0)  # the trial ends
    assert state(breaker) is BreakerState.CLOSED


def test_a_trial_timed_from_just_before_it_was_let_through_closes_the_breaker() -> None:
    breaker, clock, _ = make()
    trip(breaker)
    clock.advance(5.0)
    start = clock.monotonic()  # callers read the clock, then ask the breaker
    clock.advance(0.0001)
    assert breaker.try_acquire()  # the trial: the breaker goes half-open a moment after start
    clock.advance(0.2)
    breaker.record_success(clock.monotonic() - start)
    assert state(breaker) is BreakerState.CLOSED


def test_released_trial_lets_the_next_call_be_the_trial() -> None:
    breaker, clock, _ = make()
    trip(breaker)
    clock.advance(5.0)
    assert breaker.try_acquire()
    assert not breaker.try_acquire()
    breaker.release(0.0)  # the trial was cancelled
    assert state(breaker) is BreakerState.HALF_OPEN
    assert breaker.try_acquire()
    assert not breaker.try_acquire()


def test_buckets_roll_off_after_the_window() -> None:
    breaker, clock, _ = make()
    feed(breaker, 0, 19)
    clock.advance(10.0)
    feed(breaker, 0, 1)
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.snapshot()["requests"] == 1


def test_buckets_still_count_within_the_window() -> None:
    breaker, clock, _ = make()
    feed(breaker, 0, 19)
    clock.advance(9.0)
    feed(breaker, 0, 1)
    assert state(breaker) is BreakerState.OPEN


def test_window_rolls_bucket_by_bucket() -> None:
    breaker, clock, _ = make()
    for _ in range(10):
        feed(breaker, 1, 1)
        clock.advance(1.0)
    assert breaker.snapshot()["requests"] == 18  # the first second has rolled off
    clock.advance(5.0)
    assert breaker.snapshot()["requests"] == 8


def test_slow_calls_trip_the_breaker() -> None:
    breaker, _, _ = make(BreakerConfig(slow_call_duration_s=0.5))
    feed(breaker, 19, 0, duration=0.6)
    feed(breaker, 1, 0, duration=0.5)  # exactly the threshold is not slow (as resilience4j)
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.snapshot()["slow_pct"] == 95.0
    feed(breaker, 20, 0, duration=0.6)  # 39 of 40 slow, still under 100 %
    assert state(breaker) is BreakerState.CLOSED

    breaker, _, _ = make(BreakerConfig(slow_call_duration_s=0.5))
    feed(breaker, 20, 0, duration=0.6)
    assert state(breaker) is BreakerState.OPEN


def test_slow_call_rate_threshold_is_configurable() -> None:
    breaker, _, _ = make(BreakerConfig(slow_call_duration_s=1.0, slow_call_rate_threshold_pct=50.0))
    feed(breaker, 10, 0, duration=0.1)
    feed(breaker, 9, 0, duration=2.0)
    assert state(breaker) is BreakerState.CLOSED
    feed(breaker, 1, 0, duration=2.0)
    assert state(breaker) is BreakerState.OPEN


def test_slow_trial_reopens() -> None:
    breaker, clock, _ = make(BreakerConfig(slow_call_duration_s=0.5))
    trip(breaker)
    clock.advance(5.0)
    assert breaker.try_acquire()
    clock.advance(0.75)
    breaker.record_success(0.75)
    assert state(breaker) is BreakerState.OPEN


def test_slow_calls_are_not_counted_without_a_threshold() -> None:
    breaker, _, _ = make()
    feed(breaker, 30, 0, duration=100.0)
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.snapshot()["slow"] == 0


def test_short_circuits_are_counted_but_are_not_requests() -> None:
    breaker, _, _ = make()
    trip(breaker)
    for _ in range(7):
        assert not breaker.try_acquire()
        breaker.record_rejection()
    snap = breaker.snapshot()
    assert snap["short_circuited"] == 7
    assert snap["requests"] == 20
    assert snap["state"] == "open"
    assert snap["retry_in_s"] == 5.0


def test_everything_is_configurable() -> None:
    cfg = BreakerConfig(
        window_s=2.0,
        buckets=4,
        request_volume_threshold=3,
        error_threshold_pct=100.0,
        sleep_window_s=1.0,
    )
    breaker, clock, _ = make(cfg)
    feed(breaker, 1, 2)
    assert state(breaker) is BreakerState.CLOSED  # 66 % < 100 %
    clock.advance(2.0)  # the whole 2 s window rolls off
    feed(breaker, 0, 3)
    assert state(breaker) is BreakerState.OPEN
    clock.advance(1.0)
    assert breaker.try_acquire()


def test_state_gauge_and_transition_counter() -> None:
    breaker, clock, metrics = make()
    gauge = metrics.gauge("resilience.breaker.state", dependency="catalog")
    assert gauge.value == 0.0
    trip(breaker)
    assert gauge.value == 1.0
    clock.advance(5.0)
    breaker.try_acquire()
    assert gauge.value == 2.0
    breaker.record_success(0.0)
    assert gauge.value == 0.0
    opened = metrics.counter("resilience.breaker.transition", dependency="catalog", state="open")
    assert opened.value == 1
    assert breaker.transitions == 3


def test_forced_states() -> None:
    breaker, _, _ = make(BreakerConfig(force_open=True))
    assert not breaker.try_acquire()
    breaker, _, _ = make(BreakerConfig(force_closed=True))
    feed(breaker, 0, 50)
    assert breaker.try_acquire()
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.snapshot()["errors"] == 50


@pytest.mark.parametrize(
    "kwargs",
    [
        {"buckets": 0},
        {"window_s": 0.0},
        {"request_volume_threshold": 0},
        {"error_threshold_pct": 0.0},
        {"slow_call_rate_threshold_pct": 101.0},
        {"sleep_window_s": -1.0},
        {"slow_call_duration_s": 0.0},
    ],
)
def test_invalid_config_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"."):
        BreakerConfig(**kwargs)  # type: ignore[arg-type]
