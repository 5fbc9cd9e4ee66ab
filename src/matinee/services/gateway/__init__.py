"""The gateway (the Zuul role) as a service: the front door, one pure ASGI app per instance."""

from __future__ import annotations

from matinee.gateway.app import create_gateway
from matinee.runtime.app import ServiceSpec
from matinee.runtime.context import ServiceContext
from matinee.runtime.transport import ASGIApp


def build(ctx: ServiceContext) -> ASGIApp:
    return create_gateway(ctx, config=ctx.config.gateway, identity_key=ctx.config.identity_key)


SPEC = ServiceSpec(
    "gateway",
    asgi=build,
    description="The front door: routes, authentication offload, rate limits, load shedding.",
)
