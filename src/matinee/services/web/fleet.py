"""The services view: discovery's apps and instances, each instance's breakers and shedding.

* **apps**: the registry's current view (:mod:`.registry`): every app, every instance, its
  status, zone and last lease renewal.
* **breakers**: ``GET /resilience/breakers`` of every instance of a matinee service (the
  breakers are the instance's own: per caller, as Hystrix's are per JVM).
* **shedding**, from each instance's recent series (``/api/telemetry/query``) over a window:
  - a gateway sheds by priority (``gateway.shed`` {priority}). Its routes carry priorities
    (``/gateway/routes``), so a row is one priority with the routes that have it: ``shed`` is
    what was shed at that priority and ``admitted`` the rest of those routes' requests
    (``gateway.requests``, which counts shed requests too). A request a client lowered below
    every route's priority is shed under a priority no route has: its row names no route.
  - every other instance sheds at its adaptive concurrency limit
    (``resilience.limit.rejected`` {limiter}), whatever the route: one row, route ``*``.
    ``admitted`` is the rest of its requests (``ipc.server.call`` {service}, which counts the
    rejected ones too).
  ``shed_rate`` is ``shed / (admitted + shed)``. Series are selected by their ``service`` or
  ``limiter`` tag, so the answer is the same whether the instances share one process's store
  (the monolith) or each has its own (a fleet).

An instance that does not answer leaves its rows out and is named in ``unavailable``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from matinee.discovery.models import InstanceInfo
from matinee.services.web.instances import Fetched, InstanceCalls, Problem
from matinee.services.web.registry import RegistryView

GATEWAY = "gateway"
ALL_ROUTES = "*"


def series_total(answer: Any) -> dict[tuple[tuple[str, str], ...], float]:
    """Events per group over a ``/api/telemetry/query`` answer: rates (per second, one point
    per step) times the step, summed."""
    step = float(answer.get("step", 0.0))
    totals: dict[tuple[tuple[str, str], ...], float] = {}
    for series in answer.get("series", []):
        key = tuple(sorted((str(k), str(v)) for k, v in series.get("tags", {}).items()))
        totals[key] = totals.get(key, 0.0) + sum(float(p[1]) for p in series["points"]) * step
    return totals


def _query(name: str, minutes: float, *, tags: Sequence[str] = (), group_by: str = "") -> str:
    params: list[tuple[str, str]] = [("name", name), ("minutes", f"{minutes:g}")]
    params += [("tag", t) for t in tags]
    if group_by:
        params.append(("group_by", group_by))
    return f"/api/telemetry/query?{urlencode(params)}"


def _row(instance: str, route: str, admitted: float, shed: float, **extra: Any) -> dict[str, Any]:
    admitted, shed = max(0.0, round(admitted)), round(shed)
    total = admitted + shed
    return {
        "instance": instance,
        "route": route,
        "admitted": int(admitted),
        "shed": int(shed),
        "shed_rate": round(shed / total, 4) if total else 0.0,
        **extra,
    }


def describe_instance(info: InstanceInfo) -> dict[str, Any]:
    renewed = info.lease.last_renewal_timestamp
    return {
        "id": info.instance_id,
        "host": info.host_name,
        "port": info.port,
        "status": info.status.value,
        "zone": info.zone,
        "last_renewal": renewed / 1000.0 if renewed else None,
        "metadata": dict(info.metadata),
    }


class FleetView:
    """Gathers the services view; ``services`` are the apps that run matinee's runtime (others,
    such as the CDN's edges, are listed but not asked for breakers or series)."""

    def __init__(self, calls: InstanceCalls, registry: RegistryView, services: Sequence[str]):
        self.calls = calls
        self.registry = registry
        self.services = frozenset(s.lower() for s in services)

    async def describe(self, minutes: float) -> dict[str, Any]:
        snapshot, (registries, peer_problems) = await asyncio.gather(
            self.registry.snapshot(), self.registry.peer_states()
        )
        problems: list[Problem] = [snapshot.problem] if snapshot.problem else []
        problems += peer_problems
        apps = sorted(snapshot.apps.applications, key=lambda a: a.name)
        asked = [i for a in apps if a.name.lower() in self.services for i in a.instances]
        self.calls.forget_except(i.instance_id for i in asked)
        gathered = await asyncio.gather(*(self._instance(i, minutes) for i in asked))
        breakers: list[dict[str, Any]] = []
        shedding: list[dict[str, Any]] = []
        for b, s, p in gathered:
            breakers += b
            shedding += s
            problems += p
        return {
            "apps": [
                {
                    "name": a.name.lower(),
                    "instances": [describe_instance(i) for i in a.instances],
                }
                for a in apps
            ],
            "registries": registries,
            "breakers": breakers,
            "shedding": shedding,
            "window_minutes": minutes,
            "source": snapshot.source,
            "unavailable": [p.describe() for p in problems],
        }

    async def _instance(
        self, info: InstanceInfo, minutes: float
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Problem]]:
        shed = self._gateway if info.app.lower() == GATEWAY else self._limited
        breakers, shedding = await asyncio.gather(self._breakers(info), shed(info, minutes))
        problems = [p for _, p in (breakers, shedding) if p is not None]
        return breakers[0], shedding[0], problems

    async def _breakers(self, info: InstanceInfo) -> tuple[list[dict[str, Any]], Problem | None]:
        found = await self.calls.instance_json(info, "/resilience/breakers", "breakers")
        if found.problem is not None:
            return [], found.problem
        rows = []
        for dep in found.value.get("dependencies", []):
            rows.append(
                {
                    "instance": info.instance_id,
                    "service": info.app.lower(),
                    "dependency": dep.get("name"),
                    "state": dep.get("state"),
                    "error_rate": round(float(dep.get("error_pct", 0.0)) / 100.0, 4),
                    "calls": dep.get("requests", 0),
                    "short_circuited": dep.get("short_circuited", 0),
                    "inflight": dep.get("inflight", 0),
                    "latency_mean_s": dep.get("latency_mean_s"),
                    "retry_in_s": dep.get("retry_in_s", 0.0),
                }
            )
        return rows, None

    async def _limited(
        self, info: InstanceInfo, minutes: float
    ) -> tuple[list[dict[str, Any]], Problem | None]:
        service = info.app.lower()
        rejected, served = await asyncio.gather(
            self._series(info, "resilience.limit.rejected", minutes, tags=[f"limiter:{service}"]),
            self._series(
                info,
                "ipc.server.call",
                minutes,
                tags=["statistic:count", f"service:{service}"],
            ),
        )
        for found in (rejected, served):
            if found.problem is not None:
                return [], found.problem
        shed = sum(series_total(rejected.value).values())
        total = sum(series_total(served.value).values())
        return [_row(info.instance_id, ALL_ROUTES, total - shed, shed)], None

    async def _gateway(
        self, info: InstanceInfo, minutes: float
    ) -> tuple[list[dict[str, Any]], Problem | None]:
        routes, shed, requests = await asyncio.gather(
            self.calls.instance_json(info, "/gateway/routes", "shedding"),
            self._series(info, "gateway.shed", minutes, group_by="priority"),
            self._series(
                info, "gateway.requests", minutes, tags=["statistic:count"], group_by="route"
            ),
        )
        for found in (routes, shed, requests):
            if found.problem is not None:
                return [], found.problem
        by_priority: dict[int, list[str]] = {}
        for route in routes.value.get("routes", []):
            by_priority.setdefault(int(route["priority"]), []).append(str(route["name"]))
        served = {dict(k).get("route", ""): v for k, v in series_total(requests.value).items()}
        shed_at = {int(dict(k)["priority"]): v for k, v in series_total(shed.value).items()}
        rows = []
        for priority in sorted(set(by_priority) | set(shed_at), reverse=True):
            names = sorted(by_priority.get(priority, []))
            total = sum(served.get(n, 0.0) for n in names)
            lost = shed_at.get(priority, 0.0)
            if total <= 0 and lost <= 0:
                continue
            route = ", ".join(names) if names else ""
            rows.append(_row(info.instance_id, route, total - lost, lost, priority=priority))
        if not rows:
            rows.append(_row(info.instance_id, ALL_ROUTES, 0, 0))
        return rows, None

    async def _series(
        self,
        info: InstanceInfo,
        name: str,
        minutes: float,
        *,
        tags: Sequence[str] = (),
        group_by: str = "",
    ) -> Fetched:
        path = _query(name, minutes, tags=tags, group_by=group_by)
        return await self.calls.instance_json(info, path, "shedding")
