"""The registry's whole view of the fleet, for the admin console.

Every instance's discovery client keeps a cache of the registry, refreshed by deltas; a delta
carries changes only, so the cache keeps each lease's renewal time from when the instance was
last changed. The console wants the registry's own, current view (every app, every instance,
any status, the last renewal), so :class:`RegistryView` reads ``GET /eureka/apps/`` from the
registry peers, through the ``registry`` dependency (breaker, timeout, counted fallback). When
no peer answers, it falls back to this instance's cache and says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from matinee.discovery.models import Applications
from matinee.discovery.peers import JSON_HEADERS, RegistryPeers
from matinee.runtime.context import ServiceContext
from matinee.services.web.instances import Problem

REGISTRY = "registry"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The apps, where they came from (``registry`` or ``cache``), and the problem if any."""

    apps: Applications
    source: str
    problem: Problem | None = None


class RegistryView:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        discovery = ctx.config.discovery
        self.peers = RegistryPeers(
            discovery.registry_urls,
            ctx.transport.request,
            timeout=discovery.request_timeout,
        )
        self.dependency = ctx.dependencies.get(REGISTRY)

    async def _fetch(self, attempt: int) -> Snapshot:
        del attempt  # RegistryPeers tries every peer itself
        response = await self.peers.call("GET", "/apps/", headers=JSON_HEADERS)
        if response.status != 200:
            raise ValueError(f"the registry answered {response.status}")
        return Snapshot(Applications.from_json(json.loads(response.body)), REGISTRY)

    async def _cached(self, error: Exception) -> Snapshot:
        problem = Problem(
            REGISTRY, "apps", f"the registry did not answer ({error}); this is a cached view"
        )
        self.ctx.metrics.counter("admin.unavailable", part="apps").inc()
        return Snapshot(self.ctx.discovery.applications(), "cache", problem)

    async def snapshot(self) -> Snapshot:
        """The registry's apps now, or this instance's cached copy when it cannot answer."""
        return await self.dependency.call(self._fetch, idempotent=True, fallback=self._cached)
