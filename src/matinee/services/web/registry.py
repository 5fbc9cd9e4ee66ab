"""The registry's whole view of the fleet, for the admin console.

Every instance's discovery client keeps a cache of the registry, refreshed by deltas; a delta
carries changes only, so the cache keeps each lease's renewal time from when the instance was
last changed. The console wants the registry's own, current view (every app, every instance,
any status, the last renewal), so :class:`RegistryView` reads ``GET /eureka/apps/`` from the
registry peers, through the ``registry`` dependency (breaker, timeout, counted fallback). When
no peer answers, it falls back to this instance's cache and says so.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from matinee.discovery.models import Applications
from matinee.discovery.peers import JSON_HEADERS, RegistryPeers
from matinee.runtime.context import ServiceContext
from matinee.services.web.instances import Problem
from matinee.services.web.schemas import RegistryOut

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

    async def peer_states(self) -> tuple[list[dict[str, Any]], list[Problem]]:
        """Every configured registry peer's own state (``GET /eureka/status``), asked of each
        directly; a peer that does not answer is a row with ``up`` false and a problem."""
        rows = await asyncio.gather(*(self._peer(url) for url in self.peers.urls))
        problems = [
            Problem(REGISTRY, "peers", f"{row['url']}: {row['error']}")
            for row in rows
            if not row["up"]
        ]
        return rows, problems

    async def _peer(self, url: str) -> dict[str, Any]:
        try:
            response = await self.ctx.transport.request(
                "GET", f"{url}/status", list(JSON_HEADERS), b"", self.peers.timeout
            )
            state = json.loads(response.body) if response.status == 200 else None
        except Exception as exc:  # noqa: BLE001 - any failure means this peer is not answering
            return {"url": url, "up": False, "error": str(exc) or type(exc).__name__}
        if not isinstance(state, dict):
            return {"url": url, "up": False, "error": f"answered {response.status}"}
        try:  # the schema keeps the fields it knows and checks them
            row = RegistryOut.model_validate({**state, "url": url, "up": True, "error": None})
            return row.model_dump()
        except ValidationError as exc:
            bad = exc.error_count()
            why = f"answered a status this console cannot read ({bad} bad fields)"
            return {"url": url, "up": False, "error": why}

    async def snapshot(self) -> Snapshot:
        """The registry's apps now, or this instance's cached copy when it cannot answer."""
        return await self.dependency.call(self._fetch, idempotent=True, fallback=self._cached)
