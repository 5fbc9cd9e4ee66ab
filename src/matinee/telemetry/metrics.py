"""Dimensional metrics in the spirit of Atlas/Spectator: a name plus tags identifies a meter.

Three meter kinds:

* :class:`Counter` - a monotonically increasing count (requests, errors, fallbacks, sheds);
* :class:`Gauge` - a value sampled when read (in-flight requests, breaker state, pool size);
* :class:`Timer` - durations, with count, total, max and percentiles from log-scale buckets
  (about 5% relative error, like Spectator's PercentileTimer).

Meters are thread-safe and cheap to update; the registry hands out the same meter for the same
id, so callers may look a meter up on every event or keep a reference.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from matinee.clock import Clock, SystemClock

Tags = tuple[tuple[str, str], ...]

# Timer buckets: bucket k holds durations in [BASE * GROWTH**k, BASE * GROWTH**(k+1)).
_BASE = 1e-6  # 1 microsecond
_GROWTH = 1.1
_LOG_GROWTH = math.log(_GROWTH)


@dataclass(frozen=True, slots=True)
class MetricId:
    name: str
    tags: Tags = ()

    @classmethod
    def of(cls, name: str, tags: dict[str, str] | None = None) -> MetricId:
        return cls(name, tuple(sorted((tags or {}).items())))

    def tag(self, key: str) -> str | None:
        for k, v in self.tags:
            if k == key:
                return v
        return None

    @property
    def tag_dict(self) -> dict[str, str]:
        return dict(self.tags)


class Counter:
    kind = "counter"

    def __init__(self, mid: MetricId) -> None:
        self.id = mid
        self._value = 0.0
        self._lock = threading.Lock()

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        with self._lock:
            self._value += amount

    @property
    def value(self) -> float:
        return self._value


class Gauge:
    kind = "gauge"

    def __init__(self, mid: MetricId, fn: Callable[[], float] | None = None) -> None:
        self.id = mid
        self._value = 0.0
        self._fn = fn
        self._lock = threading.Lock()

    def set(self, value: float) -> None:
        self._value = float(value)

    def inc(self, amount: float = 1.0) -> None:
        with self._lock:
            self._value += amount

    def dec(self, amount: float = 1.0) -> None:
        with self._lock:
            self._value -= amount

    @property
    def value(self) -> float:
        return float(self._fn()) if self._fn is not None else self._value


@dataclass(frozen=True, slots=True)
class TimerSnapshot:
    count: int
    total: float
    max: float
    buckets: dict[int, int]

    def percentile(self, q: float) -> float:
        """The q-th percentile (0-100) in seconds; 0.0 when nothing was recorded."""
        if self.count == 0:
            return 0.0
        rank = max(1, math.ceil(self.count * q / 100.0))
        seen = 0
        for k in sorted(self.buckets):
            seen += self.buckets[k]
            if seen >= rank:
                # midpoint of the bucket, geometric, capped by the largest value seen
                lo = _BASE * _GROWTH**k
                return min(lo * math.sqrt(_GROWTH), self.max)
        return self.max

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0


class Timer:
    kind = "timer"

    def __init__(self, mid: MetricId, clock: Clock) -> None:
        self.id = mid
        self._clock = clock
        self._count = 0
        self._total = 0.0
        self._max = 0.0
        self._buckets: dict[int, int] = {}
        self._lock = threading.Lock()

    def record(self, seconds: float) -> None:
        seconds = max(seconds, 0.0)
        k = int(math.log(seconds / _BASE) / _LOG_GROWTH) if seconds > _BASE else 0
        with self._lock:
            self._count += 1
            self._total += seconds
            self._max = max(self._max, seconds)
            self._buckets[k] = self._buckets.get(k, 0) + 1

    @contextmanager
    def time(self) -> Iterator[None]:
        start = self._clock.monotonic()
        try:
            yield
        finally:
            self.record(self._clock.monotonic() - start)

    def snapshot(self) -> TimerSnapshot:
        with self._lock:
            return TimerSnapshot(self._count, self._total, self._max, dict(self._buckets))

    @property
    def count(self) -> int:
        return self._count


Meter = Counter | Gauge | Timer
M = TypeVar("M", Counter, Gauge, Timer)


class Registry:
    """Hands out meters by id; one registry per process (the composition root owns it)."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self._meters: dict[MetricId, Meter] = {}
        self._lock = threading.Lock()

    def _get(self, kind: type[M], mid: MetricId, make: Callable[[], M]) -> M:
        meter = self._meters.get(mid)
        if meter is None:
            with self._lock:
                meter = self._meters.get(mid)
                if meter is None:
                    meter = make()
                    self._meters[mid] = meter
        if not isinstance(meter, kind):
            raise TypeError(f"metric {mid.name} {mid.tags} is a {meter.kind}, not a {kind.kind}")
        return meter

    def counter(self, name: str, **tags: str) -> Counter:
        mid = MetricId.of(name, tags)
        return self._get(Counter, mid, lambda: Counter(mid))

    def gauge(self, name: str, **tags: str) -> Gauge:
        mid = MetricId.of(name, tags)
        return self._get(Gauge, mid, lambda: Gauge(mid))

    def gauge_fn(self, name: str, fn: Callable[[], float], **tags: str) -> Gauge:
        """A gauge whose value is read from ``fn`` whenever it is sampled (replaces an old one)."""
        mid = MetricId.of(name, tags)
        gauge = Gauge(mid, fn)
        with self._lock:
            self._meters[mid] = gauge
        return gauge

    def timer(self, name: str, **tags: str) -> Timer:
        mid = MetricId.of(name, tags)
        return self._get(Timer, mid, lambda: Timer(mid, self.clock))

    def remove(self, meter_id: MetricId) -> bool:
        """Forget a meter (e.g. one tagged with an instance that is gone); True if it existed."""
        with self._lock:
            return self._meters.pop(meter_id, None) is not None

    def remove_tagged(self, key: str, value: str) -> int:
        """Forget every meter tagged ``key=value`` (a dependency that is gone); how many."""
        with self._lock:
            gone = [mid for mid in self._meters if mid.tag(key) == value]
            for mid in gone:
                del self._meters[mid]
        return len(gone)

    def meters(self) -> list[Meter]:
        with self._lock:
            return list(self._meters.values())
