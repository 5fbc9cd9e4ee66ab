"""A circuit breaker with Hystrix's semantics plus resilience4j's slow-call trip.

Hystrix's defaults: calls are counted in a rolling window of 10 s made of 1 s buckets. The
breaker never trips while the window holds fewer than 20 requests; at 20 or more it trips when
at least 50 % of them failed. Once open it short-circuits every call for a 5 s sleep window,
then lets exactly ONE trial call through (half-open). A trial that succeeds closes the breaker
and clears the window; a trial that fails (or is slow) opens it for another sleep window.

resilience4j adds a second reason to trip: when ``slow_call_duration_s`` is set, a call that
takes longer than that is slow, and the breaker trips when the share of slow calls reaches
``slow_call_rate_threshold_pct`` (again only with enough requests in the window).

Errors, timeouts and bulkhead rejections all count as errors (as in Hystrix's health counts);
short-circuited calls are counted but are not requests.
"""

from __future__ import annotations

import enum
import logging
import math
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

from matinee.clock import Clock
from matinee.telemetry.metrics import Registry

log = logging.getLogger(__name__)

FailureCause = Literal["failure", "timeout", "rejected"]

# A trial call started at the moment the breaker went half-open; its start time is recovered
# as ``now - duration``, which float rounding may put a hair before that moment.
_START_SLACK = 1e-6


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"

    @property
    def gauge_value(self) -> float:
        """The value of the ``resilience.breaker.state`` gauge: 0 closed, 1 open, 2 half-open."""
        return {"closed": 0.0, "open": 1.0, "half_open": 2.0}[self.value]


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """How one dependency's breaker counts and trips. The defaults are Hystrix's."""

    window_s: float = 10.0
    buckets: int = 10
    request_volume_threshold: int = 20
    error_threshold_pct: float = 50.0
    sleep_window_s: float = 5.0
    slow_call_duration_s: float | None = None
    slow_call_rate_threshold_pct: float = 100.0
    force_open: bool = False  # short-circuit everything (an operator's switch)
    force_closed: bool = False  # let everything through, still counting

    def __post_init__(self) -> None:
        if self.window_s <= 0 or self.buckets < 1:
            raise ValueError("a breaker window needs a positive length and at least one bucket")
        if self.request_volume_threshold < 1:
            raise ValueError("request_volume_threshold must be at least 1")
        if (
            not 0 < self.error_threshold_pct <= 100
            or not 0 < self.slow_call_rate_threshold_pct <= 100
        ):
            raise ValueError("breaker thresholds are percentages above 0 and at most 100")
        if self.sleep_window_s < 0:
            raise ValueError("sleep_window_s cannot be negative")
        if self.slow_call_duration_s is not None and self.slow_call_duration_s <= 0:
            raise ValueError("slow_call_duration_s must be positive when set")

    @property
    def bucket_s(self) -> float:
        return self.window_s / self.buckets


@dataclass(slots=True)
class _Bucket:
    """Counts of one bucket of the rolling window (or, as ``_sum``, of the whole window)."""

    index: int = 0
    successes: int = 0
    failures: int = 0
    timeouts: int = 0
    rejected: int = 0
    short_circuited: int = 0
    slow: int = 0
    total_duration: float = 0.0
    max_duration: float = 0.0

    @property
    def requests(self) -> int:
        return self.successes + self.failures + self.timeouts + self.rejected

    @property
    def errors(self) -> int:
        return self.failures + self.timeouts + self.rejected

    def remove(self, old: _Bucket) -> None:
        self.successes -= old.successes
        self.failures -= old.failures
        self.timeouts -= old.timeouts
        self.rejected -= old.rejected
        self.short_circuited -= old.short_circuited
        self.slow -= old.slow
        self.total_duration -= old.total_duration


class CircuitBreaker:
    """One dependency's breaker. Callers ask :meth:`try_acquire` before a call and report the
    outcome with exactly one of ``record_success`` / ``record_failure`` / ``release``; when
    ``try_acquire`` says no they report :meth:`record_rejection`."""

    def __init__(
        self,
        name: str,
        config: BreakerConfig | None = None,
        *,
        clock: Clock,
        metrics: Registry | None = None,
    ) -> None:
        self.name = name
        self.config = config or BreakerConfig()
        self._clock = clock
        self._metrics = metrics
        self._lock = threading.Lock()
        self._buckets: deque[_Bucket] = deque()
        self._sum = _Bucket()  # the live buckets added up, kept as they fill and roll off
        self._state = BreakerState.CLOSED
        self._opened_at = 0.0
        self._half_open_since = 0.0
        self._trial_out = False
        self._transitions = 0
        if metrics is not None:
            metrics.gauge_fn(
                "resilience.breaker.state", lambda: self._state.gauge_value, dependency=name
            )

    # -- state -------------------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        return self._state

    @property
    def transitions(self) -> int:
        """How many times the state has changed (lets callers do something once per state)."""
        return self._transitions

    def try_acquire(self) -> bool:
        """May a call go out now? In HALF_OPEN only one trial call is let through."""
        cfg = self.config
        if cfg.force_open or cfg.force_closed:
            return cfg.force_closed and not cfg.force_open
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return True
            if self._state is BreakerState.OPEN:
                now = self._clock.monotonic()
                if now - self._opened_at < cfg.sleep_window_s:
                    return False
                self._set_state(BreakerState.HALF_OPEN)
                self._half_open_since = now
            elif self._trial_out:
                return False
            # the first call after the sleep window, or after a trial that was released
            self._trial_out = True
            return True

    # -- outcomes ----------------------------------------------------------------------------

    def record_success(self, duration: float) -> None:
        """A call succeeded after ``duration`` seconds, measured on this breaker's clock (the
        start time it implies tells a half-open trial from a call begun earlier)."""
        self._record("success", duration)

    def record_failure(self, duration: float, *, cause: FailureCause = "failure") -> None:
        """A call failed: ``failure`` (an error), ``timeout`` or ``rejected`` (bulkhead full)."""
        self._record(cause, duration)

    def record_rejection(self) -> None:
        """A call was short-circuited because :meth:`try_acquire` said no."""
        with self._lock:
            self._bucket(self._clock.monotonic()).short_circuited += 1
            self._sum.short_circuited += 1

    def release(self, duration: float = 0.0) -> None:
        """A call let through ``duration`` seconds ago ended without an outcome (it was
        cancelled). If it was the half-open trial, the slot is handed back so that the next
        call becomes the trial."""
        with self._lock:
            if self._state is BreakerState.HALF_OPEN and self._is_trial(duration):
                self._trial_out = False

    def _record(self, kind: str, duration: float) -> None:
        duration = max(duration, 0.0)
        slow_after = self.config.slow_call_duration_s
        slow = kind != "rejected" and slow_after is not None and duration > slow_after
        with self._lock:
            now = self._clock.monotonic()
            bucket = self._bucket(now)
            for b in (bucket, self._sum):
                if kind == "success":
                    b.successes += 1
                elif kind == "timeout":
                    b.timeouts += 1
                elif kind == "rejected":
                    b.rejected += 1
                else:
                    b.failures += 1
                b.slow += int(slow)
                b.total_duration += duration
            bucket.max_duration = max(bucket.max_duration, duration)

            if self._state is BreakerState.HALF_OPEN:
                if self._is_trial(duration, now):
                    if kind == "success" and not slow:
                        self._close()
                    else:
                        self._open(
                            now,
                            "its trial call failed"
                            if kind != "success"
                            else "its trial call was slow",
                        )
            elif self._state is BreakerState.CLOSED and not self.config.force_closed:
                reason = self._trip_reason(self._sum)
                if reason:
                    self._open(now, reason)

    def _is_trial(self, duration: float, now: float | None = None) -> bool:
        """Is the call that began ``duration`` ago the outstanding half-open trial? (A call that
        began before the breaker opened is not.)

        Nothing but the trial is let through after the breaker opens, so any call that began
        after that moment is the trial. Callers time a call from just BEFORE they ask
        :meth:`try_acquire`, so a trial's start may lie a little before the moment the breaker
        went half-open (microseconds on a real clock): comparing with that moment alone would
        miss the trial and leave the breaker half-open for good."""
        if not self._trial_out:
            return False
        if now is None:
            now = self._clock.monotonic()
        start = now - duration
        return start > self._opened_at or start >= self._half_open_since - _START_SLACK

    def _trip_reason(self, c: _Bucket) -> str:
        cfg = self.config
        total = c.requests
        if total < cfg.request_volume_threshold:
            return ""
        if c.errors * 100 >= cfg.error_threshold_pct * total:
            return f"{c.errors} of {total} calls failed"
        if (
            cfg.slow_call_duration_s is not None
            and c.slow * 100 >= cfg.slow_call_rate_threshold_pct * total
        ):
            return f"{c.slow} of {total} calls took over {cfg.slow_call_duration_s:g} s"
        return ""

    # -- transitions (lock held) -------------------------------------------------------------

    def _set_state(self, state: BreakerState) -> None:
        self._state = state
        self._transitions += 1
        if self._metrics is not None:
            self._metrics.counter(
                "resilience.breaker.transition", dependency=self.name, state=state.value
            ).inc()

    def _open(self, now: float, reason: str) -> None:
        self._set_state(BreakerState.OPEN)
        self._opened_at = now
        self._trial_out = False
        log.warning(
            "circuit breaker for %s opened: %s; calls are short-circuited for %g s",
            self.name,
            reason,
            self.config.sleep_window_s,
        )

    def _close(self) -> None:
        self._set_state(BreakerState.CLOSED)
        self._trial_out = False
        self._buckets.clear()  # as Hystrix resets its rolling counts on close
        self._sum = _Bucket()
        log.warning("circuit breaker for %s closed: its trial call succeeded", self.name)

    # -- rolling window (lock held) ----------------------------------------------------------

    def _roll(self, now: float) -> int:
        """Drop the buckets that have left the window; the index of the current bucket."""
        index = math.floor(now / self.config.bucket_s)
        oldest = index - self.config.buckets + 1
        buckets = self._buckets
        while buckets and buckets[0].index < oldest:
            self._sum.remove(buckets.popleft())
        if not buckets:
            self._sum = _Bucket()  # start from exact zeros again (no float drift)
        return index

    def _bucket(self, now: float) -> _Bucket:
        index = self._roll(now)
        if not self._buckets or self._buckets[-1].index < index:
            self._buckets.append(_Bucket(index))
        return self._buckets[-1]

    # -- reporting ---------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """State and rolling counts, as the breakers endpoint and stream show them."""
        with self._lock:
            now = self._clock.monotonic()
            self._roll(now)
            c = self._sum
            total = c.requests
            return {
                "name": self.name,
                "state": self._state.value,
                "requests": total,
                "successes": c.successes,
                "errors": c.errors,
                "failures": c.failures,
                "timeouts": c.timeouts,
                "rejected": c.rejected,
                "short_circuited": c.short_circuited,
                "slow": c.slow,
                "error_pct": round(100.0 * c.errors / total, 2) if total else 0.0,
                "slow_pct": round(100.0 * c.slow / total, 2) if total else 0.0,
                "latency_mean_s": c.total_duration / total if total else 0.0,
                "latency_max_s": max((b.max_duration for b in self._buckets), default=0.0),
                "retry_in_s": (
                    max(0.0, self._opened_at + self.config.sleep_window_s - now)
                    if self._state is BreakerState.OPEN
                    else 0.0
                ),
                "window_s": self.config.window_s,
            }
