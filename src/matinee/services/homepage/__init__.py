"""The homepage service: a profile's rows (continue watching, because you watched, new,
popular in the member's country, one per genre), read from the cache first and built from
catalog, history and recommendations on a miss, each behind a breaker with a fallback.

``SPEC`` runs it with the default :class:`HomepageConfig`; :func:`make_spec` with another.
Its lifespan runs the loop that precomputes each country's rows into the cache.
"""

from __future__ import annotations

from fastapi import APIRouter

from matinee.runtime.app import ServiceSpec
from matinee.runtime.context import ServiceContext
from matinee.services.homepage import api
from matinee.services.homepage.clients import ServiceLookups
from matinee.services.homepage.config import HomepageConfig
from matinee.services.homepage.errors import STATUS
from matinee.services.homepage.service import HomepageService

CACHE = "homepage"


def build(ctx: ServiceContext, config: HomepageConfig | None = None) -> APIRouter:
    lookups = ServiceLookups(ctx.clients, ctx.clock, ctx.config.identity_key)
    service = HomepageService(
        lookups,
        lookups,
        lookups,
        ctx.cache(CACHE),
        clock=ctx.clock,
        metrics=ctx.metrics,
        config=config,
    )
    ctx.add_lifespan(service.precomputer.running())
    return api.router(ctx, service)


def make_spec(config: HomepageConfig | None = None) -> ServiceSpec:
    """The homepage service with ``config`` (default: :class:`HomepageConfig`)."""
    return ServiceSpec(
        "homepage",
        build=lambda ctx: build(ctx, config),
        errors=STATUS,
        depends_on=("identity", "catalog", "history"),
        description="The home page's rows, from the cache first.",
    )


SPEC = make_spec()

__all__ = ["SPEC", "HomepageConfig", "HomepageService", "build", "make_spec"]
