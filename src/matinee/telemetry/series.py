"""Recent time series in memory (the Atlas role, embedded): sample every meter once a step, query.

Every ``step`` seconds :meth:`SeriesStore.sample` reads the registry and appends one datapoint per
series, stamped with the end of the step on the wall clock (``t = n * step``):

* a counter becomes its rate per second over the step;
* a gauge becomes its value (NaN and infinite values are left out);
* a timer becomes several series told apart by a ``statistic`` tag: ``count`` (calls per second),
  ``totalTime`` (seconds spent per second), ``max`` (longest call in the step, seconds) and
  ``percentile`` with a ``percentile`` tag ``p50``/``p90``/``p99`` (seconds, left out for steps
  without calls).

Memory stays bounded: each series is a fixed ring of ``retention / step`` floats, a series that
has not been written for the whole retention period is dropped, and at most ``max_series`` series
are kept (points of further series are dropped and counted as ``telemetry.series.dropped``).

:meth:`SeriesStore.query` selects series by name and exact tag values, groups them by tag keys and
aggregates each group point by point (sum, avg, max, min or count of series).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, cast, get_args

from matinee.clock import Clock
from matinee.errors import MatineeError
from matinee.telemetry.metrics import Counter, Gauge, MetricId, Registry, Timer, TimerSnapshot

Aggregation = Literal["sum", "avg", "max", "min", "count"]
AGGREGATIONS: tuple[str, ...] = get_args(Aggregation)
PERCENTILES = (50, 90, 99)

_log = logging.getLogger(__name__)
_EMPTY = TimerSnapshot(0, 0.0, 0.0, {})


class QueryError(MatineeError):
    """A time-series query asked for something that cannot be answered (bad parameter)."""


@dataclass(frozen=True, slots=True)
class Series:
    """One result line: the tags it was grouped by, and ``(time, value)`` points oldest first."""

    tags: dict[str, str]
    points: list[tuple[float, float]] = field(default_factory=list)


class _Ring:
    """The last ``capacity`` steps of one series; NaN marks a step without a datapoint."""

    __slots__ = ("capacity", "last", "values")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.values = array("d", [math.nan]) * capacity
        self.last = -1  # step index of the newest datapoint

    def put(self, n: int, value: float) -> None:
        if n < self.last:
            return
        if self.last >= 0:
            for k in range(self.last + 1, min(n, self.last + 1 + self.capacity)):
                self.values[k % self.capacity] = math.nan  # steps skipped since: no data
        self.values[n % self.capacity] = value
        self.last = n

    def points(self, lo: int, hi: int) -> Iterator[tuple[int, float]]:
        for n in range(max(lo, self.last - self.capacity + 1, 0), min(hi, self.last) + 1):
            value = self.values[n % self.capacity]
            if not math.isnan(value):
                yield n, value


class _Acc:
    """Running sum/count/min/max of the values of one step across a group of series."""

    __slots__ = ("count", "max", "min", "sum")

    def __init__(self) -> None:
        self.sum = 0.0
        self.count = 0
        self.min = math.inf
        self.max = -math.inf

    def add(self, value: float) -> None:
        self.sum += value
        self.count += 1
        self.min = min(self.min, value)
        self.max = max(self.max, value)

    def result(self, agg: Aggregation) -> float:
        match agg:
            case "sum":
                return self.sum
            case "avg":
                return self.sum / self.count
            case "max":
                return self.max
            case "min":
                return self.min
            case "count":
                return float(self.count)


class SeriesStore:
    def __init__(
        self,
        registry: Registry,
        *,
        step: float = 10.0,
        retention: float = 3 * 3600.0,
        clock: Clock | None = None,
        max_series: int = 20_000,
    ) -> None:
        if step <= 0 or retention < step:
            raise ValueError("the step must be positive and the retention at least one step")
        self.registry = registry
        self.step = step
        self.retention = retention
        self.capacity = math.ceil(retention / step)
        self.max_series = max_series
        self.clock: Clock = clock or registry.clock
        self._series: dict[MetricId, _Ring] = {}
        self._by_name: dict[str, set[MetricId]] = {}
        self._lock = threading.Lock()
        self._dropped = registry.counter("telemetry.series.dropped")
        # meters that exist now are the baseline: the first step reports what happens after it
        self._last_time = self.clock.time()
        self._last_step = math.floor(self._last_time / step)
        self._counters: dict[MetricId, float] = {}
        self._timers: dict[MetricId, TimerSnapshot] = {}
        for meter in registry.meters():
            if isinstance(meter, Counter):
                self._counters[meter.id] = meter.value
            elif isinstance(meter, Timer):
                self._timers[meter.id] = meter.snapshot()

    # -- writing ---------------------------------------------------------------------------

    def sample(self) -> int:
        """Append this step's datapoints; returns how many (0 if this step was sampled already)."""
        now = self.clock.time()
        n = math.floor(now / self.step)
        with self._lock:
            if n <= self._last_step:
                return 0
            elapsed = now - self._last_time
            written = 0
            counters: dict[MetricId, float] = {}
            timers: dict[MetricId, TimerSnapshot] = {}
            for meter in self.registry.meters():
                if isinstance(meter, Counter):
                    value = meter.value
                    before = self._counters.get(meter.id, 0.0)
                    delta = value - before if value >= before else value  # re-created: from 0
                    written += self._put(meter.id, n, delta / elapsed)
                    counters[meter.id] = value
                elif isinstance(meter, Gauge):
                    written += self._sample_gauge(meter, n)
                elif isinstance(meter, Timer):
                    snap = meter.snapshot()
                    written += self._sample_timer(meter.id, n, snap, elapsed)
                    timers[meter.id] = snap
            self._counters, self._timers = counters, timers
            self._expire(n)
            self._last_step, self._last_time = n, now
            return written

    def _sample_gauge(self, gauge: Gauge, n: int) -> int:
        try:
            value = gauge.value
        except Exception:  # noqa: BLE001 - one failing gauge callback must not stop sampling
            _log.exception("reading gauge %s %s failed; no datapoint", gauge.id.name, gauge.id.tags)
            return 0
        return self._put(gauge.id, n, value) if math.isfinite(value) else 0

    def _sample_timer(self, mid: MetricId, n: int, snap: TimerSnapshot, elapsed: float) -> int:
        before = self._timers.get(mid, _EMPTY)
        if snap.count < before.count:  # re-created: everything is new
            before = _EMPTY
        count = snap.count - before.count
        buckets = {
            k: c - before.buckets.get(k, 0)
            for k, c in snap.buckets.items()
            if c > before.buckets.get(k, 0)
        }
        step = TimerSnapshot(count, snap.total - before.total, snap.max, buckets)
        if count and snap.max <= before.max:
            # the longest call of all time was earlier: estimate this step's from its buckets
            step = TimerSnapshot(count, step.total, step.percentile(100.0), buckets)
        peak = step.max if count else 0.0
        tags = mid.tag_dict
        stats = {"count": count / elapsed, "totalTime": step.total / elapsed, "max": peak}
        written = 0
        for statistic, value in stats.items():
            written += self._put(MetricId.of(mid.name, {**tags, "statistic": statistic}), n, value)
        if count:
            for q in PERCENTILES:
                sid = MetricId.of(
                    mid.name, {**tags, "statistic": "percentile", "percentile": f"p{q}"}
                )
                written += self._put(sid, n, step.percentile(q))
        return written

    def _put(self, sid: MetricId, n: int, value: float) -> int:
        ring = self._series.get(sid)
        if ring is None:
            if len(self._series) >= self.max_series:
                self._dropped.inc()
                return 0
            ring = self._series[sid] = _Ring(self.capacity)
            self._by_name.setdefault(sid.name, set()).add(sid)
        ring.put(n, value)
        return 1

    def _expire(self, n: int) -> None:
        stale = [sid for sid, ring in self._series.items() if ring.last <= n - self.capacity]
        for sid in stale:
            del self._series[sid]
            ids = self._by_name[sid.name]
            ids.discard(sid)
            if not ids:
                del self._by_name[sid.name]

    async def run(self, stop: asyncio.Event) -> None:
        """Sample at every step boundary until ``stop`` is set."""
        while not stop.is_set():
            now = self.clock.time()
            delay = (math.floor(now / self.step) + 1) * self.step - now
            sleeper = asyncio.ensure_future(self.clock.sleep(delay))
            stopper = asyncio.ensure_future(stop.wait())
            _, pending = await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            if not stop.is_set():
                self.sample()

    # -- reading ---------------------------------------------------------------------------

    @property
    def series_count(self) -> int:
        return len(self._series)

    def names(self) -> list[str]:
        """Names that have at least one series, sorted."""
        with self._lock:
            return sorted(self._by_name)

    def tags(self, name: str) -> dict[str, list[str]]:
        """For one name: every tag key and the values seen with it, sorted."""
        with self._lock:
            found: dict[str, set[str]] = {}
            for sid in self._by_name.get(name, ()):
                for key, value in sid.tags:
                    found.setdefault(key, set()).add(value)
        return {key: sorted(values) for key, values in sorted(found.items())}

    def query(
        self,
        name: str,
        where: dict[str, str] | None = None,
        *,
        group_by: list[str] | None = None,
        agg: str = "sum",
        start: float | None = None,
        end: float | None = None,
    ) -> list[Series]:
        """Series of ``name`` whose tags equal ``where``, grouped by the ``group_by`` keys (series
        without one of those keys are left out) and aggregated point by point with ``agg``.
        ``start``/``end`` are wall-clock seconds (default: the whole retention up to now).
        Raises :class:`QueryError` for a bad parameter."""
        if not name:
            raise QueryError("say which metric to query (name is empty)")
        if agg not in AGGREGATIONS:
            raise QueryError(f"unknown aggregation {agg!r}; use one of {', '.join(AGGREGATIONS)}")
        keys = list(group_by or [])
        if any(not key for key in keys):
            raise QueryError("group_by has an empty tag key")
        end = self.clock.time() if end is None else end
        start = end - self.retention if start is None else start
        if not (math.isfinite(start) and math.isfinite(end)):
            raise QueryError("start and end must be finite numbers of seconds")
        if start > end:
            raise QueryError("start is after end")
        lo, hi = math.ceil(start / self.step), math.floor(end / self.step)
        wanted = dict(where or {})
        groups: dict[tuple[str, ...], dict[int, _Acc]] = {}
        with self._lock:
            for sid in self._by_name.get(name, ()):
                tags = sid.tag_dict
                if any(tags.get(k) != v for k, v in wanted.items()):
                    continue
                if any(k not in tags for k in keys):
                    continue
                accs = groups.setdefault(tuple(tags[k] for k in keys), {})
                for n, value in self._series[sid].points(lo, hi):
                    acc = accs.get(n)
                    if acc is None:
                        acc = accs[n] = _Acc()
                    acc.add(value)
        how = cast(Aggregation, agg)
        return [
            Series(
                dict(zip(keys, group, strict=True)),
                [(n * self.step, accs[n].result(how)) for n in sorted(accs)],
            )
            for group, accs in sorted(groups.items())
            if accs
        ]
