"""The gateway's configuration (a pydantic model, read once at start; never on the hot path)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from matinee.gateway.auth import SESSION_COOKIE
from matinee.gateway.cors import CorsConfig
from matinee.gateway.routes import Route, RouteConfig, default_routes
from matinee.gateway.shedding import SheddingConfig


class RateLimitConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    rate: float = Field(default=100.0, gt=0, description="requests per second per client")
    burst: float = Field(default=200.0, ge=1, description="requests a client may send at once")
    max_clients: int = Field(default=100_000, ge=1)


class GatewayConfig(BaseModel):
    """Everything tunable about the gateway. ``routes`` empty means :func:`default_routes`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    routes: list[RouteConfig] = Field(default_factory=list)
    max_body_bytes: int = Field(default=1 << 20, ge=0)
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    shedding: SheddingConfig = Field(default_factory=SheddingConfig)
    cors: CorsConfig = Field(default_factory=CorsConfig)
    session_cookie: str = SESSION_COOKIE
    # Behind a load balancer that sets X-Forwarded-*: keep them and rate-limit by the first hop.
    trust_forwarded: bool = False

    def build_routes(self) -> list[Route]:
        return [r.build() for r in self.routes] if self.routes else default_routes()


def load_gateway_config(path: Path) -> GatewayConfig:
    """Read a TOML file: top-level keys of :class:`GatewayConfig`, ``[[routes]]`` tables."""
    with path.open("rb") as f:
        return GatewayConfig.model_validate(tomllib.load(f))
