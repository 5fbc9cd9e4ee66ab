"""The steering service (Open Connect's steering role): which hosts a player should fetch a
title from, and what each edge cluster should hold before anyone asks.

It polls every edge's report (edges are app ``edge`` in discovery), maps client addresses to
regions (``config.py``), ranks hosts per play (``ranking.py``) and runs the proactive fill
(``fill.py``) in its window. Edges and the CDN tier are reached over real sockets in every
topology (they are processes of their own), through a transport of this service's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter

from matinee.delivery.tokens import UrlSigner, signing_key
from matinee.runtime.app import ServiceSpec
from matinee.runtime.background import every
from matinee.runtime.context import ServiceContext
from matinee.runtime.httpclient import HttpTransport
from matinee.services.steering import api
from matinee.services.steering.config import SteeringConfig, load_config
from matinee.services.steering.edges import EDGE_APP, EdgeBoard
from matinee.services.steering.errors import STATUS
from matinee.services.steering.fill import FillController
from matinee.services.steering.ranking import Ranker
from matinee.services.steering.regions import RegionMap
from matinee.services.steering.sources import ServiceSources
from matinee.services.steering.tier import CdnTier


def build(ctx: ServiceContext, config: SteeringConfig | None = None) -> APIRouter:
    config = config or load_config(ctx.settings)
    transport = HttpTransport(ctx.config.http)
    board = EdgeBoard(
        lambda: ctx.discovery.instances(EDGE_APP),
        transport,
        ctx.clock,
        ctx.metrics,
        poll_interval_s=config.poll_interval_s,
        report_timeout_s=config.report_timeout_s,
        stale_after_s=config.stale_after_s,
    )
    cdn = CdnTier(config.cdn_url, transport, ctx.clock) if config.cdn_url else None
    ranker = Ranker(board, RegionMap(config), config.rank, cdn)
    fill = FillController(
        board,
        sources=ServiceSources(ctx.clients),
        config=config,
        clock=ctx.clock,
        metrics=ctx.metrics,
        transport=transport,
        signer=UrlSigner(signing_key(ctx.config.url_signing_key), ctx.clock),
    )

    async def poll() -> None:
        await board.poll()
        if cdn is not None:
            await cdn.check()

    @asynccontextmanager
    async def connected() -> AsyncIterator[None]:
        try:
            await poll()  # ranked from the start, not one interval later
            yield
        finally:
            await transport.aclose()

    ctx.add_lifespan(connected)
    ctx.add_lifespan(every(ctx.clock, config.poll_interval_s, poll, name="steering-poll"))
    ctx.add_lifespan(
        every(ctx.clock, config.fill.check_interval_s, fill.tick, name="steering-fill")
    )
    return api.router(ranker, fill, ctx.metrics)


def make_spec(config: SteeringConfig | None = None) -> ServiceSpec:
    """The steering service with ``config`` (default: from settings)."""
    return ServiceSpec(
        "steering",
        build=lambda ctx: build(ctx, config),
        errors=STATUS,
        depends_on=("history", "catalog", "media"),  # the fill reads them; ranking does not
        description="Ranks edges, the CDN tier and the origin per play; fills edges ahead "
        "of demand.",
    )


SPEC = make_spec()

__all__ = ["SPEC", "SteeringConfig", "build", "make_spec"]
