"""The registry service (the Eureka server role): discovery's API on the service runtime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter

from matinee.discovery.api import router
from matinee.discovery.registry import Registry
from matinee.discovery.replication import Replicator
from matinee.runtime.app import ServiceSpec
from matinee.runtime.context import ServiceContext


def peer_urls(ctx: ServiceContext) -> tuple[str, ...]:
    """The OTHER registry peers: the configured ones, else every registry URL but this one's."""
    cfg = ctx.config.discovery
    if cfg.peer_urls:
        return cfg.peer_urls
    me = ctx.discovery.self_info
    own = f"{me.base_url}/eureka" if me is not None else ""
    return tuple(u for u in cfg.registry_urls if u.rstrip("/") != own)


def build(ctx: ServiceContext) -> APIRouter:
    config = ctx.config.discovery.model_copy(update={"peer_urls": peer_urls(ctx)})
    registry = Registry(config, ctx.clock, ctx.metrics)
    replicator = Replicator(config, registry, ctx.transport.request, ctx.metrics)

    @asynccontextmanager
    async def running() -> AsyncIterator[None]:
        stop = asyncio.Event()
        await replicator.sync_from_peers()  # Eureka's syncUp: copy a peer that is already up
        replicator.start()
        housekeeping = asyncio.create_task(registry.run(stop))
        try:
            yield
        finally:
            stop.set()
            await housekeeping
            await replicator.aclose()

    ctx.add_lifespan(running)
    return router(registry, replicator)


SPEC = ServiceSpec(
    "registry",
    build=build,
    register=False,  # clients find the registry by URL, not through itself
    description="Service discovery: the Eureka REST API, with peer replication.",
)
