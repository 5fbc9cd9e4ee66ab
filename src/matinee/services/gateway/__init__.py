"""The gateway (the Zuul role) as a service: the front door, one pure ASGI app per instance."""

from __future__ import annotations

from matinee.gateway.app import create_gateway
from matinee.gateway.validator import session_validator
from matinee.runtime.app import ServiceSpec
from matinee.runtime.context import ServiceContext
from matinee.runtime.transport import ASGIApp


def build(ctx: ServiceContext) -> ASGIApp:
    # Session tokens are checked by the identity service, each answer cached for 5 s
    # (gateway/validator.py: sign-outs take effect here within that time).
    return create_gateway(
        ctx,
        config=ctx.config.gateway,
        validator=session_validator(ctx.clients, ctx.clock, ctx.metrics),
        identity_key=ctx.config.identity_key,
    )


SPEC = ServiceSpec(
    "gateway",
    asgi=build,
    description="The front door: routes, authentication offload, rate limits, load shedding.",
)
