"""The identity service: accounts, sign-in and sessions, profiles and devices.

``SPEC`` runs it with the default :class:`IdentityConfig`; :func:`make_spec` with another (tests
use cheap password hashing). Its tables live in ``settings.database_url`` (migration 0002).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter

from matinee.cache import parse_cache_url
from matinee.runtime.app import ServiceSpec
from matinee.runtime.background import every
from matinee.runtime.context import ServiceContext
from matinee.runtime.identity import Callers
from matinee.services.identity import api, device_api, internal, profile_api
from matinee.services.identity.config import HashingConfig, IdentityConfig, WindowLimit
from matinee.services.identity.devices import Devices
from matinee.services.identity.errors import STATUS
from matinee.services.identity.profiles import Profiles
from matinee.services.identity.service import IdentityService, create_admin
from matinee.services.identity.session_cache import MAX_TTL_S, PROCESS_LOCAL_TTL_S, SessionCache


def pruning(
    service: IdentityService, interval: float
) -> Callable[[], AbstractAsyncContextManager[None]]:
    """A lifespan that deletes long-ended sessions and stale attempts every ``interval`` s."""
    return every(service.clock, interval, service.prune, name="identity-prune")


def warming(service: IdentityService) -> Callable[[], AbstractAsyncContextManager[None]]:
    """A lifespan that prepares the hash unknown-email sign-ins verify against."""

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        await service.hasher.warm()
        yield

    return lifespan


def session_cache(ctx: ServiceContext) -> SessionCache:
    """Validation answers in ``ctx.cache("sessions")``, when every identity instance shares it.

    A revocation marks the sessions it ended in the cache its instance sees. A shared cache
    (memcached) is seen by every instance, so answers may be kept up to a minute. An
    in-process cache (``memory://``) is seen only by the instances of one process, so another
    process's identity instance could go on answering from its own copy: there answers are
    kept no longer than the gateway keeps its own (5 s), which bounds how late a revocation can
    be anywhere, whatever the topology."""
    local = parse_cache_url(ctx.settings.cache_url).backend == "memory"
    ttl = PROCESS_LOCAL_TTL_S if local else MAX_TTL_S
    return SessionCache(ctx.cache("sessions"), ctx.clock, metrics=ctx.metrics, max_ttl_s=ttl)


def build(ctx: ServiceContext, config: IdentityConfig | None = None) -> list[APIRouter]:
    config = config or IdentityConfig()
    db = ctx.database()
    sessions = session_cache(ctx)
    identity = IdentityService(db, ctx.clock, config, sessions=sessions)
    profiles = Profiles(db, ctx.clock, identity, config.max_profiles)
    devices = Devices(db, ctx.clock, sessions)
    ctx.add_lifespan(warming(identity))
    if config.prune_interval_s > 0:
        ctx.add_lifespan(pruning(identity, config.prune_interval_s))
    deps = api.Deps(identity, profiles, devices, Callers(ctx), ctx.clock)
    return [
        api.router(deps, ctx.metrics),
        profile_api.router(deps),
        device_api.router(deps),
        internal.router(identity, profiles),
    ]


def make_spec(config: IdentityConfig | None = None) -> ServiceSpec:
    """The identity service with ``config`` (default: :class:`IdentityConfig`)."""
    return ServiceSpec(
        "identity",
        build=lambda ctx: build(ctx, config),
        errors=STATUS,
        description="Accounts, sign-in and sessions, profiles and devices.",
    )


SPEC = make_spec()

__all__ = [
    "SPEC",
    "HashingConfig",
    "IdentityConfig",
    "IdentityService",
    "WindowLimit",
    "build",
    "create_admin",
    "make_spec",
]
