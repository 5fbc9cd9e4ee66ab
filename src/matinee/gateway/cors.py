"""Cross-origin API calls: a CORS policy at the front door (one inbound, one outbound filter).

By default the gateway allows no other origin: the web app and the admin console are served
from the gateway's own origin and need no CORS. A deployment whose browser clients live
elsewhere (a studio's upload page using tus-js-client, a player page on another host) lists
their origins in ``[gateway.cors]``:

* **Preflights** (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) from an
  allowed origin are answered here, before routing, authentication or rate limits (a browser
  sends no credentials with a preflight): 204 with the allowed methods, and as allowed headers
  the ones the browser asked for (``allow_headers = ["*"]``, the default: the origin is trusted)
  or the configured list. A preflight from any other origin goes on to the service like any
  request: media answers preflights from every origin itself (segments and manifests are
  public behind their signed URLs), and any other service refuses it, so the browser refuses
  the call. A plain ``OPTIONS`` (tus's discovery request) is not a preflight and goes to the
  service too.
* **Answers** to an allowed origin, errors included (a browser client must be able to read a
  401 or a 429), carry ``Access-Control-Allow-Origin`` and expose the headers an API client
  reads: tus's ``Location``, ``Upload-Offset`` and friends, ``Retry-After``, the request id.
  An answer that already carries CORS headers (signed media sets its own, for any origin)
  keeps them.
* **Caches**: while the policy is on, every other answer says ``Vary: Origin`` (the answer
  to an allowed origin differs from the one to anybody else, so no cache may hand one to the
  other); with ``allowed_origins = ["*"]`` every answer carries ``Access-Control-Allow-Origin: *``
  instead, the same for everybody.
* Credentials (the session cookie) only with ``allow_credentials = true`` and explicit
  origins. The cookie is ``SameSite=Lax``, so a browser sends it only to the same site
  (``studio.example.com`` to ``api.example.com``); bearer tokens need no credentials mode.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from matinee.gateway.filters import RequestContext
from matinee.gateway.response import GatewayResponse

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ANY = "*"
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
DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 9110 5.1: a field name is a token.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_HOST = re.compile(r"[a-z0-9.\-:]+")  # as urlsplit gives it: lower-case, IPv6 unbracketed


class CorsConfig(BaseModel):
    """``[gateway.cors]``: which other origins' pages may call the API from a browser."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed_origins: list[str] = Field(
        default_factory=list,
        description="origins such as https://studio.example.com, or '*' for any; empty: none",
    )
    allow_credentials: bool = False
    allow_headers: list[str] = Field(
        default_factory=lambda: [ANY],
        description="request headers a preflight may ask for; '*': whatever it asks for",
    )
    expose_headers: list[str] = Field(default_factory=lambda: list(EXPOSE_HEADERS))
    max_age_s: int = Field(default=600, ge=0, description="how long a browser keeps a preflight")

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        return [_normalized_origin(o) for o in origins]

    @field_validator("allow_headers", "expose_headers")
    @classmethod
    def _header_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not _TOKEN.match(name):
                raise ValueError(f"{name!r} is not a header name")
        return [n.lower() for n in names]

    @model_validator(mode="after")
    def _no_credentials_for_everyone(self) -> CorsConfig:
        if self.allow_credentials and ANY in self.allowed_origins:
            raise ValueError(
                "allow_credentials needs the origins listed one by one: with '*' any web page "
                "could make signed-in calls on its visitors' behalf"
            )
        if self.allow_credentials and ANY in self.expose_headers:
            raise ValueError(
                "with allow_credentials, browsers read '*' in expose_headers as a header "
                "named '*': list the headers"
            )
        return self


def _normalized_origin(origin: str) -> str:
    """``*`` or ``scheme://host[:port]`` as a browser sends it in ``Origin``: lower-case, no
    default port, ASCII host. Anything else is a configuration error (it could never match)."""
    if origin == ANY:
        return origin
    refused = f"{origin!r} is not an origin (expected e.g. https://studio.example.com)"
    if origin != origin.strip() or not origin.isascii():
        raise ValueError(refused + "; write the host in its ASCII (punycode) form, no spaces")
    parts = urlsplit(origin)
    try:
        port = parts.port
    except ValueError:
        raise ValueError(refused + ": the port is not a number from 0 to 65535") from None
    host = parts.hostname
    if parts.scheme not in DEFAULT_PORTS or not host or not _HOST.fullmatch(host):
        raise ValueError(refused)
    rest = origin.split("://", 1)[1]
    if "/" in rest.rstrip("/") or "?" in rest or "#" in rest or "@" in rest:
        raise ValueError(f"{origin!r} is not an origin: no path, query or user info")
    authority = host if ":" not in host else f"[{host}]"
    if port is not None and port != DEFAULT_PORTS[parts.scheme]:
        authority += f":{port}"
    return f"{parts.scheme}://{authority}"


class CorsPolicy:
    """The decisions both filters share."""

    def __init__(self, config: CorsConfig) -> None:
        self.config = config
        self.any_origin = ANY in config.allowed_origins
        self.origins = frozenset(config.allowed_origins)
        self._echo_headers = ANY in config.allow_headers
        self._allow_headers = ", ".join(config.allow_headers)
        self._expose = ", ".join(config.expose_headers)
        self._methods = ", ".join(METHODS)
        self._max_age = str(config.max_age_s)

    @property
    def enabled(self) -> bool:
        return bool(self.origins)

    def allows(self, origin: str) -> bool:
        return self.any_origin or origin.lower() in self.origins

    def origin_headers(self, origin: str) -> list[tuple[str, str]]:
        """The headers every answer to an allowed ``origin`` carries (``Vary`` apart)."""
        if self.any_origin:  # never with credentials (refused by the config)
            return [("access-control-allow-origin", ANY)]
        headers = [("access-control-allow-origin", origin)]
        if self.config.allow_credentials:
            headers.append(("access-control-allow-credentials", "true"))
        return headers

    def preflight(self, origin: str, requested: str | None) -> GatewayResponse:
        allow = self._allow_headers
        if self._echo_headers:
            names = [n.strip() for n in (requested or "").split(",") if n.strip()]
            allow = ", ".join(n.lower() for n in names if _TOKEN.match(n))
        headers = [
            *self.origin_headers(origin),
            ("access-control-allow-methods", self._methods),
            ("access-control-max-age", self._max_age),
        ]
        if allow:
            headers.append(("access-control-allow-headers", allow))
        response = GatewayResponse(204, headers)
        self.vary(response)
        return response

    def decorate(self, origin: str | None, response: GatewayResponse) -> None:
        """CORS headers for an answer to ``origin`` (None: the request had no Origin)."""
        if response.header("access-control-allow-origin") is not None:
            return  # the service answered CORS itself (signed media: any origin)
        if self.any_origin or (origin is not None and self.allows(origin)):
            response.headers.extend(self.origin_headers(origin or ""))
            if self._expose:
                response.headers.append(("access-control-expose-headers", self._expose))
        self.vary(response)

    def vary(self, response: GatewayResponse) -> None:
        """``Vary: Origin`` unless the answer is the same for every origin or says so already."""
        if self.any_origin:
            return
        for name, value in response.headers:
            if name == "vary" and any(
                v.strip().lower() in ("origin", ANY) for v in value.split(",")
            ):
                return
        response.headers.append(("vary", "Origin"))


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
        origin = ctx.header("origin") or ""
        return self.policy.preflight(origin, ctx.header("access-control-request-headers"))


class CorsHeadersFilter:
    """CORS headers on every answer while the policy is on (order 20, outbound): the origin's
    grant to an allowed origin, ``Vary: Origin`` to everybody."""

    name = "cors_headers"
    order = 20

    def __init__(self, policy: CorsPolicy) -> None:
        self.policy = policy

    def should_filter(self, ctx: RequestContext) -> bool:
        return True

    async def apply(self, ctx: RequestContext, response: GatewayResponse) -> GatewayResponse:
        self.policy.decorate(ctx.header("origin"), response)  # a preflight's answer has its own
        return response
