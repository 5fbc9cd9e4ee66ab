"""Metric graphs for the console: the fleet's recent series, from every telemetry store.

Each process keeps its own store (``telemetry.series.SeriesStore``, one per ``Node``): in the
monolith every service shares one, in a fleet every instance process has its own. This view
reads each store once and merges:

* the stores of this process hold the series of every instance whose discovery client lives
  here (each keeps the gauge ``discovery.cache.age`` {instance}): this instance alone in a
  fleet, all of them in the monolith. Those are read in place;
* every other instance of a matinee service in discovery is a process of its own, asked
  through the client stack (``/api/telemetry/names``, ``/tags``, ``/query``); one that does
  not answer is named in ``unavailable`` and the rest is merged without it.

Merging point by point (the stores share the step, and stamp points at whole steps of the wall
clock): ``sum`` and ``count`` add up, ``max`` and ``min`` take the largest and smallest, and
``avg`` is asked of each store as a sum and a count, so the mean is over every series of the
fleet, not a mean of means.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from matinee.discovery.models import InstanceInfo
from matinee.errors import MatineeError
from matinee.runtime.context import ServiceContext
from matinee.services.web.instances import Fetched, InstanceCalls, Problem
from matinee.telemetry.series import AGGREGATIONS

_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
OWNER_GAUGE = "discovery.cache.age"  # every discovery client's; tagged with its instance

Points = dict[float, float]
Groups = dict[tuple[str, ...], Points]


class BadQuery(MatineeError):
    """A metrics query the console sent cannot be answered (a parameter is wrong)."""


@dataclass(frozen=True)
class MetricQuery:
    """A checked query: metric name, exact tags, group-by keys, aggregation, minutes back."""

    name: str
    where: dict[str, str] = field(default_factory=dict)
    group_by: tuple[str, ...] = ()
    agg: str = "sum"
    minutes: float = 60.0

    @classmethod
    def parse(
        cls,
        name: str | None,
        *,
        tags: Sequence[str],
        group_by: Sequence[str],
        agg: str,
        minutes: float | None,
        retention_minutes: float,
    ) -> MetricQuery:
        """From the request's parameters; :class:`BadQuery` naming the wrong one."""
        if not name or not _NAME.match(name):
            raise BadQuery("name: give a metric name, e.g. name=ipc.server.call")
        where: dict[str, str] = {}
        for item in (t.strip() for value in tags for t in value.split(",")):
            key, sep, val = item.partition(":")
            if not sep or not key or not val:
                raise BadQuery(f"tags: {item!r} should look like key:value, e.g. service:media")
            if where.get(key, val) != val:
                raise BadQuery(f"tags: {key!r} is given twice with different values")
            where[key] = val
        keys: list[str] = []
        for key in (k.strip() for value in group_by for k in value.split(",")):
            if not key:
                raise BadQuery("group_by: a tag key is empty")
            if key not in keys:
                keys.append(key)
        if agg not in AGGREGATIONS:
            raise BadQuery(f"agg: use one of {', '.join(AGGREGATIONS)}, not {agg!r}")
        wanted = min(60.0, retention_minutes) if minutes is None else minutes
        if not 0 < wanted <= retention_minutes:
            raise BadQuery(f"minutes: more than 0 and at most {retention_minutes:g}")
        return cls(name, where, tuple(keys), agg, wanted)

    def params(self, agg: str) -> str:
        pairs = [("name", self.name), ("agg", agg), ("minutes", f"{self.minutes:g}")]
        pairs += [("tag", f"{k}:{v}") for k, v in self.where.items()]
        if self.group_by:
            pairs.append(("group_by", ",".join(self.group_by)))
        return urlencode(pairs)


def _merge(into: Groups, found: Groups, combine: Callable[[float, float], float]) -> None:
    for key, points in found.items():
        target = into.setdefault(key, {})
        for t, v in points.items():
            target[t] = combine(target[t], v) if t in target else v


COMBINE: dict[str, Callable[[float, float], float]] = {
    "sum": lambda a, b: a + b,
    "count": lambda a, b: a + b,
    "max": max,
    "min": min,
}


class MetricsView:
    def __init__(self, ctx: ServiceContext, calls: InstanceCalls, services: Sequence[str]):
        self.ctx = ctx
        self.calls = calls
        self.store = ctx.series
        self.services = frozenset(s.lower() for s in services)

    @property
    def retention_minutes(self) -> float:
        return self.store.retention / 60.0

    def local_instances(self) -> set[str]:
        """Instances whose series this process's store holds."""
        return {
            owner
            for meter in self.ctx.metrics.meters()
            if meter.id.name == OWNER_GAUGE and (owner := meter.id.tag("instance")) is not None
        } | {self.ctx.instance_id}

    def remote(self) -> list[InstanceInfo]:
        """Instances of matinee services that keep a store of their own, elsewhere."""
        here = self.local_instances()
        return [
            info
            for info in self.ctx.discovery.applications().instances()
            if info.app.lower() in self.services and info.instance_id not in here
        ]

    async def _ask(self, path: str) -> tuple[list[Fetched], list[str]]:
        remote = self.remote()
        found = await asyncio.gather(*(self.calls.instance_json(i, path, "series") for i in remote))
        return list(found), [i.instance_id for i, f in zip(remote, found, strict=True) if f.ok]

    async def names(self) -> dict[str, Any]:
        """Every metric name with at least one series anywhere."""
        names = set(self.store.names())
        found, asked = await self._ask("/api/telemetry/names")
        for f in found:
            if f.ok:
                names.update(str(n) for n in f.value.get("names", []))
        return {"names": sorted(names), **self._sources(found, asked)}

    async def tags(self, name: str) -> dict[str, Any]:
        """Every tag key of ``name`` and the values seen with it, anywhere."""
        if not _NAME.match(name):
            raise BadQuery("name: give a metric name, e.g. name=ipc.server.call")
        tags = {k: set(v) for k, v in self.store.tags(name).items()}
        found, asked = await self._ask(f"/api/telemetry/tags?{urlencode({'name': name})}")
        for f in found:
            if f.ok:
                for key, values in f.value.get("tags", {}).items():
                    tags.setdefault(str(key), set()).update(str(v) for v in values)
        out = {k: sorted(v) for k, v in sorted(tags.items())}
        return {"name": name, "tags": out, **self._sources(found, asked)}

    async def query(self, q: MetricQuery) -> dict[str, Any]:
        """The series of ``q`` merged over every store."""
        end = self.ctx.clock.time()
        start = end - q.minutes * 60.0
        parts = ("sum", "count") if q.agg == "avg" else (q.agg,)
        merged: dict[str, Groups] = {}
        for agg in parts:
            local = self.store.query(
                q.name, q.where, group_by=list(q.group_by), agg=agg, start=start, end=end
            )
            merged[agg] = {tuple(s.tags[k] for k in q.group_by): dict(s.points) for s in local}
        # avg: a mean over every series of the fleet, from each store's sum and count
        asks = await asyncio.gather(
            *(self._ask(f"/api/telemetry/query?{q.params(agg)}") for agg in parts)
        )
        found, asked = asks[0]
        extra = asks[1][0] if len(asks) > 1 else []
        for agg, answers in zip(parts, (found, extra), strict=False):
            for f in answers:
                if f.ok:
                    _merge(merged[agg], self._groups(f.value, q.group_by), COMBINE[agg])
        groups = self._mean(merged) if q.agg == "avg" else merged[q.agg]
        return {
            "name": q.name,
            "agg": q.agg,
            "where": q.where,
            "group_by": list(q.group_by),
            "step": self.store.step,
            "start": start,
            "end": end,
            "series": [
                {
                    "tags": dict(zip(q.group_by, key, strict=True)),
                    "points": [[t, v] for t, v in sorted(points.items())],
                }
                for key, points in sorted(groups.items())
                if points
            ],
            **self._sources(found + extra, asked),
        }

    @staticmethod
    def _groups(answer: Any, keys: Sequence[str]) -> Groups:
        groups: Groups = {}
        for series in answer.get("series", []):
            tags = series.get("tags", {})
            key = tuple(str(tags.get(k, "")) for k in keys)
            points = groups.setdefault(key, {})
            for t, v in series.get("points", []):
                points[float(t)] = float(v)
        return groups

    @staticmethod
    def _mean(merged: dict[str, Groups]) -> Groups:
        sums, counts = merged["sum"], merged["count"]
        return {
            key: {
                t: total / counts[key][t]
                for t, total in points.items()
                if counts.get(key, {}).get(t, 0.0) > 0
            }
            for key, points in sums.items()
        }

    def _sources(self, found: list[Fetched], asked: list[str]) -> dict[str, Any]:
        problems: list[Problem] = []
        for f in found:
            if f.problem is not None and f.problem not in problems:
                problems.append(f.problem)
        return {
            "sources": {"here": sorted(self.local_instances()), "asked": sorted(set(asked))},
            "unavailable": [p.describe() for p in problems],
        }
