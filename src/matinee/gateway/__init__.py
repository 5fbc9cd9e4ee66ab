"""The gateway (the Zuul role): the front door for every client API call.

A pure ASGI app running a filter chain - inbound (request id and trace, route, prioritized load
shedding, authentication offload, per-client rate limit, body-size limit), one endpoint (the
proxy through the client stack, with route fallbacks) and outbound filters. ``gateway.errors`` is
the one place failures become HTTP answers.
"""

from matinee.gateway.app import Gateway, GatewayContext, create_gateway
from matinee.gateway.auth import Identity, InvalidIdentity, TokenValidator, verify_identity
from matinee.gateway.config import GatewayConfig, RateLimitConfig, load_gateway_config
from matinee.gateway.routes import LastGoodFallback, Route, RouteConfig, StaticFallback
from matinee.gateway.shedding import SheddingConfig

__all__ = [
    "Gateway",
    "GatewayConfig",
    "GatewayContext",
    "Identity",
    "InvalidIdentity",
    "LastGoodFallback",
    "RateLimitConfig",
    "Route",
    "RouteConfig",
    "SheddingConfig",
    "StaticFallback",
    "TokenValidator",
    "create_gateway",
    "load_gateway_config",
    "verify_identity",
]
