"""One edge appliance: its parts put together, started and stopped in order.

Start: the store's index is rebuilt from disk, the upstream HTTP client opens, the edge
registers with discovery (when it has registry URLs), nginx starts in front when the edge has
one (:mod:`matinee.cdn.edge.front`) and a housekeeping loop begins (retired files deleted, pins
that ran out released, nginx's hits counted and shown to the eviction policy). Stop: leave
discovery first (steering stops ranking the edge), then stop nginx, end proactive fills and
close the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from matinee.cdn.edge.access import EdgeAccess
from matinee.cdn.edge.config import EdgeConfig
from matinee.cdn.edge.fill import Filler, FillQueue
from matinee.cdn.edge.front import FrontConfig, NginxFront
from matinee.cdn.edge.memory import MemoryTier
from matinee.cdn.edge.registration import edge_instance_of
from matinee.cdn.edge.report import EdgeStats, edge_report
from matinee.cdn.edge.store import DiskStore
from matinee.cdn.edge.upstreams import Upstreams
from matinee.clock import Clock, SystemClock
from matinee.delivery.tokens import UrlSigner
from matinee.discovery.client import DiscoveryClient
from matinee.runtime.httpclient import HttpTransport
from matinee.telemetry.metrics import Registry

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 1.0
TOUCHES_PER_DRAIN = 3  # S3-FIFO counts up to 3 accesses; more within a second tell it nothing


class Appliance:
    """Store, access checks, upstreams, fills, statistics and registration of one edge."""

    def __init__(
        self, config: EdgeConfig, signing_key: bytes, *, clock: Clock | None = None
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.store = DiskStore(
            config.root,
            config.capacity_bytes,
            self.clock,
            policy=config.policy,
            retire_grace=config.retire_grace,
        )
        self.stats = EdgeStats(self.clock)
        signer = UrlSigner(signing_key, self.clock)
        self.front: NginxFront | None = None
        if config.front == "nginx":
            self.front = NginxFront(
                FrontConfig(
                    root=config.root / "front",
                    objects=self.store.objects,
                    host=config.host,
                    port=config.port,
                    backend_port=config.backend_port,
                    edge_id=config.edge_id,
                    trust_forwarded=config.trust_forwarded,
                )
            )
        grants = self.front.grants if self.front is not None else None
        self.access = EdgeAccess(signer, self.store, grants=grants)
        self._transport: HttpTransport | None = None
        self.discovery: DiscoveryClient | None = None
        if config.registry_urls:
            self._transport = HttpTransport()
            discovery = config.discovery.model_copy(update={"registry_urls": config.registry_urls})
            self.discovery = DiscoveryClient(
                discovery,
                self._transport.request,
                self.clock,
                Registry(self.clock),
                self_info=edge_instance_of(config),
            )
        self.upstreams = Upstreams(config, self.clock, self.discovery)
        self.filler = Filler(
            config, self.store, self.upstreams, signer=signer, stats=self.stats, clock=self.clock
        )
        self.fills = FillQueue(self.filler, self.store, concurrency=config.fill_concurrency)
        self.memory = (
            MemoryTier(config.memory_bytes, config.memory_max_object)
            if config.memory_bytes > 0
            else None
        )
        self._started = False
        self._stopping = False
        self._housekeeping: asyncio.Task[None] | None = None

    @property
    def healthy(self) -> bool:
        """Serving: started and not shutting down."""
        return self._started and not self._stopping

    @property
    def ready(self) -> bool:
        """Healthy and, when it registers, registered."""
        return self.healthy and (self.discovery is None or self.discovery.registered)

    def report(self) -> dict[str, object]:
        report = edge_report(
            self.config,
            self.stats,
            self.store,
            healthy=self.healthy,
            upstreams=self.upstreams.known(),
        )
        if self.front is not None:
            report["front"] = {
                "kind": "nginx",
                "restarts": self.front.restarts,
                **self.front.grants.describe(),
            }
        if self.memory is not None:
            memory = self.memory
            report["memory"] = {
                "capacity_bytes": memory.capacity,
                "used_bytes": memory.used,
                "objects": len(memory),
            }
        return report

    async def start(self) -> None:
        if self._started:
            return
        self.store.open()
        await self.filler.start()
        if self.discovery is not None:
            await self.discovery.start()
        if self.front is not None:
            await self.front.start()
        self._housekeeping = asyncio.create_task(self._keep_house())
        self._started = True
        log.info(
            "edge %s serving %s (%s, %d of %d bytes held)",
            self.config.edge_id,
            self.config.url,
            self.store.policy,
            self.store.used_bytes,
            self.store.capacity,
        )

    async def leave(self) -> None:
        """Stop being chosen: not ready, and gone from discovery."""
        self._stopping = True
        if self.discovery is not None:
            await self.discovery.stop()

    async def stop(self) -> None:
        await self.leave()
        if self.front is not None:
            await self.front.stop()
            self.count_front_hits()
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeping
            self._housekeeping = None
        await self.fills.close()
        await self.filler.close()
        self.store.save_pins()
        if self._transport is not None:
            await self._transport.aclose()
            self._transport = None
        self._started = False

    async def _keep_house(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_SECONDS)
            if self.front is not None:  # first and on its own: nginx must not outlive a token
                try:
                    self.front.grants.sweep(self.clock.time())
                except Exception:  # whatever failed, the next second tries again
                    log.exception("sweeping nginx's grants failed; it runs again in a second")
            try:
                self.store.sweep()
                self.store.unpin_expired()
                self.store.save_pins()
                if self.front is not None:
                    self.count_front_hits()
                    await self.front.keep_running()
                    self.stats.front_inflight = await self.front.in_flight() or 0
            except Exception:  # the loop must outlive any one failure
                log.exception("edge housekeeping failed; it runs again in a second")

    def count_front_hits(self) -> int:
        """Count the hits nginx served since the last call and show them to the eviction
        policy; how many. Each key is touched once per hit up to three times per call, in the
        order of its last hit (what LRU needs, and as often as S3-FIFO's frequency counts); a
        key evicted meanwhile is only counted."""
        if self.front is None:
            return 0
        hits = self.front.read_hits()
        if not hits:
            return 0
        counts: dict[str, int] = {}
        sent = 0
        for key, size in hits:
            counts[key] = counts.pop(key, 0) + 1  # re-inserted: ordered by last hit
            sent += size
        get = self.store.get
        for key, count in counts.items():
            for _ in range(min(count, TOUCHES_PER_DRAIN)):
                get(key)
        self.stats.served_many(len(hits), sent)
        self.stats.hits += len(hits)
        return len(hits)
