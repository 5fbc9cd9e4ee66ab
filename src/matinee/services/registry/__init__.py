"""The registry service (the Eureka server role): discovery's API on the service runtime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from fastapi import APIRouter

from matinee.discovery.api import router
from matinee.discovery.registry import Registry
from matinee.discovery.replication import Replicator
from matinee.runtime.app import ServiceSpec
from matinee.runtime.context import ServiceContext


def _normal(url: str) -> tuple[str, str, int | None, str]:
    """A URL as compared: ``http://h/eureka`` and ``http://h:80/eureka/`` are the same."""
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:  # not a port: compared as written
        return parts.scheme, parts.netloc, None, parts.path.rstrip("/")
    return parts.scheme, (parts.hostname or "").lower(), port, parts.path.rstrip("/")


def peer_urls(ctx: ServiceContext) -> tuple[str, ...]:
    """The OTHER registry peers: the configured ones, else every registry URL but this one's
    (a registry that replicated to itself would count every renewal twice)."""
    cfg = ctx.config.discovery
    if cfg.peer_urls:
        return cfg.peer_urls
    me = ctx.discovery.self_info
    own = _normal(f"{me.base_url}/eureka") if me is not None else None
    return tuple(u for u in cfg.registry_urls if _normal(u) != own)


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
