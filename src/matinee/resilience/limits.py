"""Adaptive concurrency limits for a server, after Netflix's concurrency-limits library.

A :class:`Limiter` hands out one :class:`Token` per request while fewer than ``limit``
requests are in flight, and refuses otherwise (the caller answers 503). When a request ends,
its token reports the round-trip time to the limit algorithm, which moves the limit:

* :class:`Gradient2Limit` compares a long-term average RTT (an exponential average over about
  ``long_window`` samples, a plain average while warming up) with the latest RTT. Their ratio,
  the gradient, is clamped to [0.5, 1.0]; the new limit is ``gradient * limit + queue_size``,
  smoothed by ``smoothing`` and kept within [min_limit, max_limit]. It does not grow while the
  server uses less than half of its limit, and it pulls the long-term RTT down quickly when it
  is more than twice the current one (recovery after a long overload).
* :class:`VegasLimit` follows TCP Vegas: the estimated queue is ``limit * (1 - rtt_noload/rtt)``
  and the limit grows while it is small and shrinks while it is large.
* :class:`WindowedLimit` feeds its delegate one averaged sample per window instead of every
  sample, as the library's ``WindowedLimit`` does.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable
from typing import Protocol

from matinee.clock import Clock
from matinee.telemetry.metrics import Registry


class Limit(Protocol):
    """A limit algorithm: reads samples, exposes the current limit."""

    @property
    def limit(self) -> int: ...

    def on_sample(self, start: float, rtt: float, inflight: int, did_drop: bool) -> None: ...


def log10_root(n: int) -> int:
    """max(1, floor(log10 n)): how the library scales Vegas' thresholds with the limit."""
    return max(1, int(math.log10(n))) if n > 0 else 1


class FixedLimit:
    def __init__(self, limit: int) -> None:
        self._limit = limit

    @property
    def limit(self) -> int:
        return self._limit

    def on_sample(self, start: float, rtt: float, inflight: int, did_drop: bool) -> None:
        return None


class Gradient2Limit:
    """The gradient of a long-term average RTT over the current RTT drives the limit."""

    def __init__(
        self,
        *,
        initial_limit: int = 20,
        min_limit: int = 20,
        max_limit: int = 200,
        smoothing: float = 0.2,
        queue_size: int | Callable[[int], float] = 4,
        long_window: int = 600,
        warmup: int = 10,
    ) -> None:
        if not 1 <= min_limit <= max_limit or not 0.0 < smoothing <= 1.0 or long_window < 1:
            raise ValueError(
                "Gradient2Limit needs 1 <= min_limit <= max_limit and 0 < smoothing <= 1"
            )
        self.min_limit = min_limit
        self.max_limit = max_limit
        self.smoothing = smoothing
        self._queue_size: Callable[[int], float] = (
            (lambda _limit: float(queue_size)) if isinstance(queue_size, int) else queue_size
        )
        self._factor = 2.0 / (long_window + 1)
        self._warmup = warmup
        self._estimate = float(initial_limit)
        self._long_rtt = 0.0
        self._long_count = 0
        self._long_sum = 0.0
        self.short_rtt = 0.0
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        return int(self._estimate)

    @property
    def estimate(self) -> float:
        return self._estimate

    @property
    def long_rtt(self) -> float:
        return self._long_rtt

    def _add_long(self, rtt: float) -> float:
        if self._long_count < self._warmup:
            self._long_count += 1
            self._long_sum += rtt
            self._long_rtt = self._long_sum / self._long_count
        else:
            self._long_rtt = self._long_rtt * (1.0 - self._factor) + rtt * self._factor
        return self._long_rtt

    def on_sample(self, start: float, rtt: float, inflight: int, did_drop: bool) -> None:
        if rtt <= 0.0:
            return  # a zero RTT carries no information (and would divide by zero)
        with self._lock:
            queue = self._queue_size(int(self._estimate))
            self.short_rtt = rtt
            long_rtt = self._add_long(rtt)
            if long_rtt / rtt > 2.0:
                self._long_rtt *= 0.9  # latency is back to normal: forget the overload faster
            if inflight < self._estimate / 2:
                return  # the application, not the server, limits the rate: do not grow
            gradient = max(0.5, min(1.0, long_rtt / rtt))
            target = self._estimate * gradient + queue
            smoothed = self._estimate * (1.0 - self.smoothing) + target * self.smoothing
            self._estimate = max(float(self.min_limit), min(float(self.max_limit), smoothed))


class VegasLimit:
    """TCP Vegas on request RTTs, with the library's log10-scaled alpha, beta and threshold."""

    def __init__(
        self,
        *,
        initial_limit: int = 20,
        max_limit: int = 1000,
        smoothing: float = 1.0,
        probe_multiplier: int = 30,
        rng: random.Random | None = None,
    ) -> None:
        self.max_limit = max_limit
        self.smoothing = smoothing
        self.probe_multiplier = probe_multiplier
        self._rng = rng or random.Random(0)  # noqa: S311 - probe jitter, not security
        self._estimate = float(initial_limit)
        self.rtt_noload = 0.0
        self._probe_count = 0
        self._probe_jitter = self._rng.uniform(0.5, 1.0)
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        return int(self._estimate)

    def on_sample(self, start: float, rtt: float, inflight: int, did_drop: bool) -> None:
        if rtt <= 0.0:
            return
        with self._lock:
            self._probe_count += 1
            if self._probe_jitter * self.probe_multiplier * self._estimate <= self._probe_count:
                # now and then take the current RTT as the no-load RTT, to follow real changes
                self._probe_jitter = self._rng.uniform(0.5, 1.0)
                self._probe_count = 0
                self.rtt_noload = rtt
                return
            if self.rtt_noload == 0.0 or rtt < self.rtt_noload:
                self.rtt_noload = rtt
                return
            self._update(rtt, inflight, did_drop)

    def _update(self, rtt: float, inflight: int, did_drop: bool) -> None:
        est = self._estimate
        step = log10_root(int(est))
        queue = math.ceil(est * (1.0 - self.rtt_noload / rtt))
        if did_drop:
            new = est - step
        elif inflight * 2 < est:
            return
        elif queue <= step:  # no queueing: grow fast
            new = est + 6 * step
        elif queue < 3 * step:
            new = est + step
        elif queue > 6 * step:
            new = est - step
        else:
            return
        new = max(1.0, min(float(self.max_limit), new))
        self._estimate = (1.0 - self.smoothing) * est + self.smoothing * new


class WindowedLimit:
    """Feeds the delegate the average RTT of each window of samples (at least ``window_size``
    samples, ``min_window``..``max_window`` seconds long) instead of every single sample."""

    def __init__(
        self,
        delegate: Limit,
        *,
        min_window: float = 1.0,
        max_window: float = 1.0,
        window_size: int = 10,
        min_rtt_threshold: float = 100e-6,
    ) -> None:
        self.delegate = delegate
        self.min_window = min_window
        self.max_window = max_window
        self.window_size = window_size
        self.min_rtt_threshold = min_rtt_threshold
        self._next_update = -math.inf
        self._reset()
        self._lock = threading.Lock()

    def _reset(self) -> None:
        self._min_rtt = math.inf
        self._sum = 0.0
        self._count = 0
        self._max_inflight = 0
        self._dropped = False

    @property
    def limit(self) -> int:
        return self.delegate.limit

    def on_sample(self, start: float, rtt: float, inflight: int, did_drop: bool) -> None:
        if rtt < self.min_rtt_threshold:
            return
        end = start + rtt
        with self._lock:
            self._min_rtt = min(self._min_rtt, rtt)
            self._sum += rtt
            self._count += 1
            self._max_inflight = max(self._max_inflight, inflight)
            self._dropped = self._dropped or did_drop
            if end <= self._next_update:
                return
            min_rtt, avg, count = self._min_rtt, self._sum / self._count, self._count
            max_inflight, dropped = self._max_inflight, self._dropped
            self._reset()
            self._next_update = end + min(max(min_rtt * 2, self.min_window), self.max_window)
        if count >= self.window_size:
            self.delegate.on_sample(start, avg, max_inflight, dropped)


class Token:
    """One admitted request. Report exactly one outcome; later reports are ignored."""

    __slots__ = ("_done", "_limiter", "inflight", "start")

    def __init__(self, limiter: Limiter, start: float, inflight: int) -> None:
        self._limiter = limiter
        self.start = start
        self.inflight = inflight
        self._done = False

    def _finish(self) -> bool:
        if self._done:
            return False
        self._done = True
        self._limiter._inflight -= 1
        return True

    def success(self, rtt: float | None = None) -> None:
        """The request was served; ``rtt`` defaults to the time since the token was taken."""
        if self._finish():
            self._limiter._sample(self, rtt, did_drop=False)

    def dropped(self, rtt: float | None = None) -> None:
        """The request timed out or was dropped: a sign of overload."""
        if self._finish():
            self._limiter._sample(self, rtt, did_drop=True)

    def ignore(self) -> None:
        """The request ended in a way that says nothing about load (an error, a cancel)."""
        self._finish()


class Limiter:
    """Admits requests while fewer than the algorithm's limit are in flight."""

    def __init__(
        self,
        limit: Limit,
        clock: Clock,
        *,
        metrics: Registry | None = None,
        name: str = "server",
    ) -> None:
        self.algorithm = limit
        self.name = name
        self._clock = clock
        self._inflight = 0
        self.rejected = 0
        if metrics is not None:
            metrics.gauge_fn("resilience.limit", lambda: float(self.limit), limiter=name)
            metrics.gauge_fn(
                "resilience.limit.inflight", lambda: float(self._inflight), limiter=name
            )

    @property
    def limit(self) -> int:
        return self.algorithm.limit

    @property
    def inflight(self) -> int:
        return self._inflight

    def try_acquire(self) -> Token | None:
        if self._inflight >= self.algorithm.limit:
            self.rejected += 1
            return None
        self._inflight += 1
        return Token(self, self._clock.monotonic(), self._inflight)

    def _sample(self, token: Token, rtt: float | None, *, did_drop: bool) -> None:
        if rtt is None:
            rtt = self._clock.monotonic() - token.start
        self.algorithm.on_sample(token.start, rtt, token.inflight, did_drop)
