"""Calls to one chosen instance, and to a service, through the client stack.

The admin read API asks every instance of the fleet for its own state (breakers, series), so
it cannot let a load balancer pick the instance. :class:`InstanceCalls` builds, per instance, a
``runtime.client.ServiceClient`` whose balancer offers only that instance: the same stack as
``ctx.clients`` (breaker, bulkhead, timeout, transport: in-process in the monolith, sockets in
a fleet). Each instance has a dependency of its own, ``instance:<id>``, so one dead instance
opens only its own breaker and never hides its live siblings.

Every call has a fallback: when no answer can be had, the client stack counts it
(``resilience.fallback``) and the caller gets a :class:`Fetched` that says why, so one part of
an admin answer says "unavailable" while the rest is still served. ``admin.unavailable``
{part} counts the parts answered that way.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from matinee.discovery.models import InstanceInfo
from matinee.resilience.errors import NoInstance
from matinee.runtime.client import Clients, ServiceClient
from matinee.runtime.context import ServiceContext
from matinee.runtime.transport import Response
from matinee.telemetry.metrics import Registry

UNAVAILABLE = 599  # what the fallbacks answer with: never a real status
JSON = (("accept", "application/json"),)


@dataclass(frozen=True, slots=True)
class Problem:
    """One part of an answer that could not be had: from where, what, and why."""

    source: str  # an instance id, a service or "registry"
    part: str  # "breakers", "shedding", "edges", "series", ...
    reason: str

    def describe(self) -> dict[str, str]:
        return {"source": self.source, "part": self.part, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Fetched:
    """A JSON answer, or the :class:`Problem` that stands in for it."""

    value: Any = None
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


class PinnedBalancer:
    """A balancer with one instance to offer (``runtime.client.Balancer``'s shape)."""

    def __init__(self, instance: InstanceInfo) -> None:
        self.instance = instance

    def choose(self, exclude: Collection[str] = ()) -> InstanceInfo:
        if self.instance.instance_id in exclude:
            raise NoInstance(
                f"{self.instance.instance_id} was tried already", dependency=self.instance.app
            )
        return self.instance

    def on_start(self, instance: InstanceInfo) -> None:
        del instance

    def on_finish(self, instance: InstanceInfo, ok: bool) -> None:
        del instance, ok


async def _unavailable(error: Exception) -> Response:
    return Response(UNAVAILABLE, [], (str(error) or type(error).__name__).encode())


def decode(response: Response, source: str, part: str, what: str) -> Fetched:
    """A 200 JSON answer as :class:`Fetched`; anything else as its problem."""
    if response.status == UNAVAILABLE:
        return Fetched(problem=Problem(source, part, f"no answer: {response.text}"))
    if response.status != 200:
        return Fetched(problem=Problem(source, part, f"{what} answered {response.status}"))
    try:
        return Fetched(json.loads(response.body))
    except ValueError:
        return Fetched(problem=Problem(source, part, f"{what} did not answer JSON"))


class InstanceCalls:
    """GETs to chosen instances (by id) and to services (any instance), with fallbacks."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.clients: Clients = ctx.clients
        self._pinned: dict[str, tuple[str, ServiceClient]] = {}  # id: (address, client)
        self._gone: set[str] = set()
        self._metrics: Registry = ctx.metrics

    def _client(self, instance: InstanceInfo) -> ServiceClient:
        known = self._pinned.get(instance.instance_id)
        if known is not None and known[0] == instance.base_url:
            return known[1]
        ctx = self.ctx
        client = ServiceClient(
            instance.app.lower(),
            PinnedBalancer(instance),
            ctx.dependencies.get(f"instance:{instance.instance_id}"),
            ctx.transport,
            metrics=ctx.metrics,
            caller=ctx.service,
            config=ctx.config.client,
        )
        self._pinned[instance.instance_id] = (instance.base_url, client)
        return client

    def forget_except(self, instance_ids: Iterable[str]) -> None:
        """Drop the clients of instances that are gone from discovery, and their breakers."""
        keep = set(instance_ids)
        gone = set(self._pinned) - keep
        # Also those dropped last time: calls in flight then may have made meters since.
        for instance_id in gone | (self._gone - keep):
            self._pinned.pop(instance_id, None)
            self.ctx.dependencies.remove(f"instance:{instance_id}")
        self._gone = gone

    def count(self, problem: Problem) -> Problem:
        self._metrics.counter("admin.unavailable", part=problem.part).inc()
        return problem

    async def instance_json(self, instance: InstanceInfo, path: str, part: str) -> Fetched:
        """GET ``path`` from exactly ``instance``."""
        response = await self._client(instance).request(
            "GET", path, headers=JSON, fallback=_unavailable
        )
        found = decode(response, instance.instance_id, part, instance.instance_id)
        if found.problem is not None:
            self.count(found.problem)
        return found

    async def service_json(self, service: str, path: str, part: str) -> Fetched:
        """GET ``path`` from any instance of ``service`` (the balancer picks)."""
        response = await self.clients.get(service).request(
            "GET", path, headers=JSON, fallback=_unavailable
        )
        found = decode(response, service, part, f"the {service} service")
        if found.problem is not None:
            self.count(found.problem)
        return found
