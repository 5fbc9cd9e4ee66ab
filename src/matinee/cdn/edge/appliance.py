"""One edge appliance: its parts put together, started and stopped in order.

Start: the store's index is rebuilt from disk, the upstream HTTP client opens, the edge
registers with discovery (when it has registry URLs) and a housekeeping loop begins (retired
files deleted, pins that ran out released). Stop: leave discovery first (steering stops ranking
the edge), then end proactive fills and close the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from matinee.cdn.edge.access import EdgeAccess
from matinee.cdn.edge.config import EdgeConfig
from matinee.cdn.edge.fill import Filler, FillQueue
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
        self.access = EdgeAccess(signer, self.store)
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
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeping
            self._housekeeping = None
        await self.fills.close()
        await self.filler.close()
        if self._transport is not None:
            await self._transport.aclose()
            self._transport = None
        self._started = False

    async def _keep_house(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_SECONDS)
            try:
                self.store.sweep()
                self.store.unpin_expired()
            except OSError:
                log.exception("edge housekeeping failed; it runs again in a second")
