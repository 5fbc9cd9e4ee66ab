"""Cross-origin API calls: a CORS policy at the front door (one inbound, one outbound filter).

By default the gateway allows no other origin: the web app and the admin console are served
from the gateway's own origin and need no CORS. A deployment whose browser clients live
elsewhere (a studio's upload page using tus-js-client, a player page on another host) lists
their origins in ``[gateway.cors]``:

* **Preflights** (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) from an
  allowed origin are answered here, before routing, authentication or rate limits (a browser
  sends no credentials with a preflight): 204 with the allowed methods and headers. A
  preflight from any other origin goes on to the service like any request: media answers
  preflights from every origin itself (segments and manifests are public behind their signed
  URLs), and any other service refuses it, so the browser refuses the call. A plain
  ``OPTIONS`` (tus's discovery request) is not a preflight and goes to the service too.
* **Answers** to an allowed origin, errors included (a browser client must be able to read a
  401 or a 429), carry ``Access-Control-Allow-Origin`` and expose the headers an API client
  reads: tus's ``Location``, ``Upload-Offset`` and friends, ``Retry-After``, the request id.
  An answer that already carries CORS headers (signed media sets its own, for any origin)
  keeps them.
* Credentials (the session cookie) only with ``allow_credentials = true`` and explicit
  origins; bearer tokens need no credentials mode.

``Vary: Origin`` is sent whenever the answer depends on the origin, so a shared cache never
hands one origin's answer to another.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from matinee.gateway.filters import RequestContext
from matinee.gateway.response import GatewayResponse

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# What API clients send: auth, JSON, tus's own headers, tracing.
ALLOW_HEADERS = (
    "authorization",
    "content-type",
    "idempotency-key",
    "range",
    "tus-resumable",
    "upload-concat",
    "upload-defer-length",
    "upload-length",
    "upload-metadata",
    "upload-offset",
    "x-http-method-override",
    "x-request-id",
    "traceparent",
    "tracestate",
)
# What API clients read beyond the CORS-safelisted response headers.
EXPOSE_HEADERS = (
    "etag",
    "location",
    "retry-after",
    "tus-extension",
    "tus-max-size",
    "tus-resumable",
    "tus-version",
    "upload-expires",
    "upload-length",
    "upload-metadata",
    "upload-offset",
    "x-request-id",
)


class CorsConfig(BaseModel):
    """``[gateway.cors]``: which other origins' pages may call the API from a browser."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed_origins: list[str] = Field(
        default_factory=list,
        description="origins such as https://studio.example.com, or '*' for any; empty: none",
    )
    allow_credentials: bool = False
    allow_headers: list[str] = Field(default_factory=lambda: list(ALLOW_HEADERS))
    expose_headers: list[str] = Field(default_factory=lambda: list(EXPOSE_HEADERS))
    max_age_s: int = Field(default=600, ge=0, description="how long a browser keeps a preflight")

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        return [_normalized_origin(o) for o in origins]

    @model_validator(mode="after")
    def _no_credentials_for_everyone(self) -> CorsConfig:
        if self.allow_credentials and "*" in self.allowed_origins:
            raise ValueError(
                "allow_credentials needs the origins listed one by one: with '*' any web page "
                "could make signed-in calls on its visitors' behalf"
            )
        return self


def _normalized_origin(origin: str) -> str:
    """``*`` or ``scheme://host[:port]``, lower-case; anything else is a configuration error."""
    if origin == "*":
        return origin
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{origin!r} is not an origin (expected e.g. https://studio.example.com)")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{origin!r} is not an origin: no path, query or user info")
    return origin.rstrip("/").lower()


class CorsPolicy:
    """The decisions both filters share."""

    def __init__(self, config: CorsConfig) -> None:
        self.config = config
        self.any_origin = "*" in config.allowed_origins
        self.origins = frozenset(config.allowed_origins)
        self._expose = ", ".join(config.expose_headers)
        self._preflight = [
            ("access-control-allow-methods", ", ".join(METHODS)),
            ("access-control-allow-headers", ", ".join(config.allow_headers)),
            ("access-control-max-age", str(config.max_age_s)),
        ]

    @property
    def enabled(self) -> bool:
        return bool(self.origins)

    def allows(self, origin: str) -> bool:
        return self.any_origin or origin.lower() in self.origins

    def origin_headers(self, origin: str) -> list[tuple[str, str]]:
        """The headers every answer to an allowed ``origin`` carries."""
        if self.any_origin and not self.config.allow_credentials:
            return [("access-control-allow-origin", "*")]
        headers = [("access-control-allow-origin", origin), ("vary", "Origin")]
        if self.config.allow_credentials:
            headers.append(("access-control-allow-credentials", "true"))
        return headers

    def preflight(self, origin: str) -> GatewayResponse:
        return GatewayResponse(204, [*self.origin_headers(origin), *self._preflight])

    def decorate(self, origin: str, response: GatewayResponse) -> None:
        if response.header("access-control-allow-origin") is not None:
            return  # the service answered CORS itself (signed media: any origin)
        for name, value in self.origin_headers(origin):
            vary = response.header("vary") if name == "vary" else None
            response.set_header(name, value if vary is None else f"{vary}, {value}")
        if self._expose:
            response.headers.append(("access-control-expose-headers", self._expose))


def is_preflight(ctx: RequestContext) -> bool:
    return ctx.method == "OPTIONS" and ctx.header("access-control-request-method") is not None


class CorsPreflightFilter:
    """Answer allowed origins' preflights (order 15: after the request id, before routing)."""

    name = "cors_preflight"
    order = 15

    def __init__(self, policy: CorsPolicy) -> None:
        self.policy = policy

    def should_filter(self, ctx: RequestContext) -> bool:
        if not is_preflight(ctx):
            return False
        origin = ctx.header("origin")
        return origin is not None and self.policy.allows(origin)

    async def apply(self, ctx: RequestContext) -> GatewayResponse | None:
        return self.policy.preflight(ctx.header("origin") or "")


class CorsHeadersFilter:
    """Add CORS headers to every answer to an allowed origin (order 20, outbound)."""

    name = "cors_headers"
    order = 20

    def __init__(self, policy: CorsPolicy) -> None:
        self.policy = policy

    def should_filter(self, ctx: RequestContext) -> bool:
        origin = ctx.header("origin")
        return origin is not None and not is_preflight(ctx) and self.policy.allows(origin)

    async def apply(self, ctx: RequestContext, response: GatewayResponse) -> GatewayResponse:
        self.policy.decorate(ctx.header("origin") or "", response)
        return response
