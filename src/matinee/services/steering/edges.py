"""What steering knows of the edges: who they are (discovery) and how they are (their reports).

Every ``poll_interval_s`` the :class:`EdgeBoard` lists the instances of app ``edge`` in
discovery (metadata ``region``, ``cluster``, ``public_url``) and reads each one's
``GET /edge/report`` at the address it registered, all at once, each within
``report_timeout_s``. An edge is *live* while its last good report is at most
``stale_after_s`` old and says ``healthy``; only live edges are ranked and filled. An edge
that is killed stays in discovery until its lease expires, but stops reporting at once, so it
drops out after ``stale_after_s``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from matinee.clock import Clock
from matinee.discovery.models import InstanceInfo
from matinee.runtime.transport import Transport
from matinee.telemetry.metrics import Registry

log = logging.getLogger(__name__)

EDGE_APP = "edge"


@dataclass(frozen=True, slots=True)
class EdgeReport:
    """One ``/edge/report`` answer (the CDN contract)."""

    edge_id: str
    cluster: str
    region: str
    public_url: str
    healthy: bool
    inflight: int = 0
    bytes_out_per_s: float = 0.0
    requests_per_s: float = 0.0
    capacity_bytes: int = 0
    used_bytes: int = 0
    hits: int = 0
    misses: int = 0
    hit_ratio: float = 0.0
    inventory: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def parse(cls, body: Any) -> EdgeReport:
        """From the JSON body; ValueError when it is not a report."""
        try:
            load = body.get("load") or {}
            return cls(
                edge_id=str(body["edge_id"]),
                cluster=str(body["cluster"]),
                region=str(body["region"]),
                public_url=str(body["public_url"]).rstrip("/"),
                healthy=bool(body["healthy"]),
                inflight=int(load.get("inflight", 0)),
                bytes_out_per_s=float(load.get("bytes_out_per_s", 0.0)),
                requests_per_s=float(load.get("requests_per_s", 0.0)),
                capacity_bytes=int(body.get("capacity_bytes", 0)),
                used_bytes=int(body.get("used_bytes", 0)),
                hits=int(body.get("hits", 0)),
                misses=int(body.get("misses", 0)),
                hit_ratio=float(body.get("hit_ratio", 0.0)),
                inventory={str(k): int(v) for k, v in (body.get("inventory") or {}).items()},
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not an edge report: {exc}") from exc


@dataclass
class Edge:
    """One edge as steering sees it: where it registered, and its last good report."""

    edge_id: str
    base_url: str  # where steering reaches it (its registered address)
    region: str
    cluster: str
    public_url: str  # where players reach it
    report: EdgeReport | None = None
    last_ok: float | None = None  # monotonic time of the last good report
    failures: int = 0  # reports missed since the last good one
    last_error: str = ""

    @classmethod
    def of(cls, info: InstanceInfo) -> Edge:
        meta = info.metadata
        return cls(
            edge_id=info.instance_id,
            base_url=info.base_url,
            region=meta.get("region", ""),
            cluster=meta.get("cluster", ""),
            public_url=(meta.get("public_url") or info.base_url).rstrip("/"),
        )

    def held(self, prefix: str) -> int:
        """Bytes of ``prefix`` (``media/assets/<id>/``) this edge holds, by its last report."""
        return self.report.inventory.get(prefix, 0) if self.report else 0


Instances = Callable[[], list[InstanceInfo]]


class EdgeBoard:
    """The edges in discovery and their reports, polled in the background."""

    def __init__(
        self,
        instances: Instances,
        transport: Transport,
        clock: Clock,
        metrics: Registry,
        *,
        poll_interval_s: float = 2.0,
        report_timeout_s: float = 1.0,
        stale_after_s: float = 6.0,
    ) -> None:
        self._instances = instances
        self._transport = transport
        self._clock = clock
        self._metrics = metrics
        self.poll_interval_s = poll_interval_s
        self.report_timeout_s = report_timeout_s
        self.stale_after_s = stale_after_s
        self.edges: dict[str, Edge] = {}
        metrics.gauge_fn("steering.edges", lambda: float(len(self.live())), state="live")
        metrics.gauge_fn("steering.edges", lambda: float(len(self.edges)), state="known")

    def is_live(self, edge: Edge) -> bool:
        """A good, healthy report no older than ``stale_after_s``."""
        if edge.last_ok is None or edge.report is None or not edge.report.healthy:
            return False
        return self._clock.monotonic() - edge.last_ok <= self.stale_after_s

    def live(self) -> list[Edge]:
        """Live edges, by id."""
        return [e for _, e in sorted(self.edges.items()) if self.is_live(e)]

    async def poll(self) -> None:
        """Refresh the edge list from discovery and read every edge's report once."""
        current = {i.instance_id: i for i in self._instances()}
        for gone in set(self.edges) - set(current):
            log.info("edge %s left discovery", gone)
            del self.edges[gone]
        for edge_id, info in current.items():
            known = self.edges.get(edge_id)
            fresh = Edge.of(info)
            if known is None:
                self.edges[edge_id] = fresh
            else:  # it may have registered again with another address
                known.base_url, known.public_url = fresh.base_url, fresh.public_url
                known.region, known.cluster = fresh.region, fresh.cluster
        await asyncio.gather(*(self._read(e) for e in list(self.edges.values())))

    async def _fetch(self, edge: Edge) -> EdgeReport:
        response = await self._transport.request(
            "GET", edge.base_url + "/edge/report", (), b"", self.report_timeout_s
        )
        if response.status != 200:
            raise ValueError(f"HTTP {response.status}")
        return EdgeReport.parse(response.json())

    async def _read(self, edge: Edge) -> None:
        try:
            report = await self._fetch(edge)
        except Exception as exc:  # noqa: BLE001 - any failure is a missed report, counted
            edge.failures += 1
            self._metrics.counter("steering.report", outcome="failed").inc()
            if edge.failures == 1:  # logged once per outage
                log.warning("edge %s did not report: %s", edge.edge_id, exc)
            edge.last_error = str(exc) or type(exc).__name__
            return
        if edge.failures:
            log.info("edge %s reports again", edge.edge_id)
        edge.report = report
        edge.last_ok = self._clock.monotonic()
        edge.failures = 0
        edge.last_error = ""
        # The report's own words win over the registration's metadata.
        edge.region = report.region or edge.region
        edge.cluster = report.cluster or edge.cluster
        edge.public_url = report.public_url or edge.public_url
        self._metrics.counter("steering.report", outcome="ok").inc()

    def describe(self) -> list[dict[str, Any]]:
        """Every known edge and its state, for ``GET /internal/steering/edges``."""
        now = self._clock.monotonic()
        out = []
        for edge_id, e in sorted(self.edges.items()):
            r = e.report
            out.append(
                {
                    "edge_id": edge_id,
                    "region": e.region,
                    "cluster": e.cluster,
                    "public_url": e.public_url,
                    "live": self.is_live(e),
                    "report_age_s": None if e.last_ok is None else round(now - e.last_ok, 3),
                    "missed_reports": e.failures,
                    "last_error": e.last_error or None,
                    "healthy": r.healthy if r else None,
                    "inflight": r.inflight if r else None,
                    "bytes_out_per_s": r.bytes_out_per_s if r else None,
                    "requests_per_s": r.requests_per_s if r else None,
                    "titles": len(r.inventory) if r else None,  # asset folders it holds
                    "capacity_bytes": r.capacity_bytes if r else None,
                    "used_bytes": r.used_bytes if r else None,
                    "hit_ratio": r.hit_ratio if r else None,
                }
            )
        return out
