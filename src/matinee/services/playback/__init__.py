"""The playback service: authorizes plays, counts streams with leases, signs media URLs.

``SPEC`` runs it with the default :class:`PlaybackConfig` and the steering service's hosts
(:class:`~matinee.delivery.steering.SteeringClient`; the origin alone when it cannot answer);
:func:`make_spec` takes another config or a :class:`~matinee.delivery.steering.Steering` (the
CDN's). Its leases live in ``settings.database_url`` (migration 0005).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import APIRouter

from matinee.delivery.steering import Steering, SteeringClient
from matinee.delivery.tokens import UrlSigner, signing_key
from matinee.runtime.app import ServiceSpec
from matinee.runtime.background import every
from matinee.runtime.context import ServiceContext
from matinee.runtime.identity import Callers
from matinee.services.playback import api
from matinee.services.playback.clients import ServiceLookups
from matinee.services.playback.errors import STATUS
from matinee.services.playback.leases import Leases
from matinee.services.playback.service import PlaybackConfig, PlaybackService
from matinee.services.playback.store import PlaybackStore


def sweeping(leases: Leases, interval: float) -> Callable[[], AbstractAsyncContextManager[None]]:
    """A lifespan that deletes leases expired for more than ``interval`` every ``interval`` s
    (starts delete their own account's; this clears accounts that stopped playing)."""

    async def sweep() -> int:
        return await leases.sweep(grace=interval)

    return every(leases.clock, interval, sweep, name="playback-sweep")


def build(
    ctx: ServiceContext, config: PlaybackConfig | None = None, steering: Steering | None = None
) -> APIRouter:
    config = config or PlaybackConfig()
    leases = Leases(PlaybackStore(ctx.database()), ctx.clock, config.lease_ttl_s)
    if config.sweep_interval_s > 0:
        ctx.add_lifespan(sweeping(leases, config.sweep_interval_s))
    service = PlaybackService(
        ServiceLookups(ctx.clients),
        leases=leases,
        signer=UrlSigner(signing_key(ctx.config.url_signing_key), ctx.clock),
        steering=steering or SteeringClient(ctx.clients.get("steering"), ctx.metrics),
        clock=ctx.clock,
        config=config,
        metrics=ctx.metrics,
    )
    return api.router(service, Callers(ctx))


def make_spec(
    config: PlaybackConfig | None = None, steering: Steering | None = None
) -> ServiceSpec:
    """The playback service with ``config`` and ``steering`` (default: the steering service)."""
    return ServiceSpec(
        "playback",
        build=lambda ctx: build(ctx, config, steering),
        errors=STATUS,
        depends_on=("identity", "billing", "catalog", "media"),
        description="Authorizes plays (subscription, availability, maturity, stream limit) "
        "and hands out signed manifest URLs.",
    )


SPEC = make_spec()

__all__ = ["SPEC", "PlaybackConfig", "PlaybackService", "build", "make_spec"]
