"""The gateway as a pure ASGI app: no framework routing on the hot path.

Per request it decodes the headers once, runs the filter chain and sends one response. Its own
small endpoints (``/healthz``, ``/gateway/routes``, ``/gateway/shedding``) are found by one
dict lookup before the chain and are never rate-limited or shed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from typing import Any, Protocol

from matinee.clock import Clock
from matinee.gateway.auth import AuthFilter, TokenValidator
from matinee.gateway.config import GatewayConfig
from matinee.gateway.cors import CorsHeadersFilter, CorsPolicy, CorsPreflightFilter
from matinee.gateway.filters import (
    BodyLimitFilter,
    FilterChain,
    InboundFilter,
    OutboundFilter,
    RequestContext,
    RequestIdFilter,
    ResponseHeadersFilter,
    RouteFilter,
)
from matinee.gateway.proxy import FallbackProvider, ProxyEndpoint, Upstreams
from matinee.gateway.ratelimit import RateLimiter, RateLimitFilter
from matinee.gateway.response import GatewayResponse, json_response
from matinee.gateway.routes import Route, RouteTable
from matinee.gateway.shedding import LoadShedder, SheddingFilter
from matinee.telemetry.metrics import Registry, Timer

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIReceive = Callable[[], Awaitable[Message]]
ASGISend = Callable[[Message], Awaitable[None]]
Hook = Callable[[], Awaitable[None]]

# A client that goes away before its answer is sent (nginx's 499).
_CLIENT_GONE = GatewayResponse(499)
_HTTP1 = ("1.1", "1.0")
_FRAMING = (b"content-length", b"transfer-encoding")  # RFC 9112 6.3: what makes a body


class GatewayContext(Protocol):
    """What the gateway needs from the composition root (``runtime.app.ServiceContext`` fits)."""

    @property
    def clock(self) -> Clock: ...

    @property
    def metrics(self) -> Registry: ...

    @property
    def clients(self) -> Upstreams: ...


def _encode(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape")


class Gateway:
    """The ASGI callable. Build it with :func:`create_gateway`."""

    def __init__(
        self,
        chain: FilterChain,
        table: RouteTable,
        shedder: LoadShedder,
        clock: Clock,
        metrics: Registry,
        *,
        on_startup: Sequence[Hook] = (),
        on_shutdown: Sequence[Hook] = (),
    ) -> None:
        self.chain = chain
        self.table = table
        self.shedder = shedder
        self.clock = clock
        self.metrics = metrics
        self.on_startup = list(on_startup)
        self.on_shutdown = list(on_shutdown)
        self._timers: dict[tuple[str, int], Timer] = {}
        self._local: dict[str, Callable[[], GatewayResponse]] = {
            "/healthz": lambda: json_response(200, {"status": "ok"}),
            "/gateway/routes": self._describe_routes,
            "/gateway/shedding": self._describe_shedding,
        }

    async def __call__(self, scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
        kind = scope["type"]
        if kind != "http":
            if kind == "lifespan":
                await self._lifespan(receive, send)
            elif kind == "websocket":
                await send({"type": "websocket.close", "code": 1003})
            return
        path: str = scope["path"]
        local = self._local.get(path)
        if local is not None:
            await self._send(send, local(), scope["method"] == "HEAD")
            return
        raw = scope.get("raw_path")
        client = scope.get("client")
        raw_headers = scope["headers"]
        body = None
        if scope.get("http_version") in _HTTP1 and not any(k in _FRAMING for k, _ in raw_headers):
            body = b""  # HTTP/1 without length or chunking has no body: nothing to receive()
        ctx = RequestContext(
            scope["method"],
            path,
            raw_path=raw.decode("latin-1") if raw else None,
            query=scope["query_string"].decode("latin-1"),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw_headers],
            client=client[0] if client else None,
            scheme=scope.get("scheme", "http"),
            receive=receive,
            body=body,
            start=self.clock.monotonic(),
        )
        response = _CLIENT_GONE
        try:
            response = await self.chain.run(ctx)
            await self._send(send, response, ctx.method == "HEAD")
        finally:
            ctx.complete(response)
            self._record(ctx, response.status)

    def _record(self, ctx: RequestContext, status: int) -> None:
        route = ctx.route.name if ctx.route is not None else "none"
        key = (route, status)
        timer = self._timers.get(key)
        if timer is None:
            timer = self.metrics.timer("gateway.requests", route=route, status=str(status))
            self._timers[key] = timer
        timer.record(self.clock.monotonic() - ctx.start)

    @staticmethod
    async def _send(send: ASGISend, response: GatewayResponse, head: bool) -> None:
        try:
            headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        except UnicodeEncodeError:
            headers = [(_encode(k), _encode(v)) for k, v in response.headers]
        if not head or response.header("content-length") is None:
            headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else response.body})

    async def _lifespan(self, receive: ASGIReceive, send: ASGISend) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    for hook in self.on_startup:
                        await hook()
                except Exception as exc:
                    log.exception("gateway startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def aclose(self) -> None:
        for hook in self.on_shutdown:
            try:
                await hook()
            except Exception:
                log.exception("gateway shutdown hook failed")
        await self.shedder.aclose()

    def _describe_routes(self) -> GatewayResponse:
        return json_response(
            200, {"routes": self.table.describe(), "filters": self.chain.describe()}
        )

    def _describe_shedding(self) -> GatewayResponse:
        s = self.shedder
        return json_response(
            200,
            {
                "inflight": s.inflight,
                "overload": s.overload(),
                "shed": {str(p): n for p, n in s.shed_counts().items()},
            },
        )


def create_gateway(
    ctx: GatewayContext,
    routes: Iterable[Route] | None = None,
    *,
    config: GatewayConfig | None = None,
    validator: TokenValidator | None = None,
    identity_key: bytes | None = None,
    inbound: Iterable[InboundFilter] = (),
    outbound: Iterable[OutboundFilter] = (),
    on_startup: Sequence[Hook] = (),
    on_shutdown: Sequence[Hook] = (),
) -> Gateway:
    """The gateway app: routes (default: the config's, else :func:`default_routes`) to services
    reached through ``ctx.clients``; ``validator`` checks session tokens; ``identity_key`` signs
    the identity for services (a random key when None: only this process could verify it).
    Extra filters join the chain by their ``order``.
    """
    config = config or GatewayConfig()
    table = RouteTable(list(routes) if routes is not None else config.build_routes())
    clock, metrics = ctx.clock, ctx.metrics
    if identity_key is None:
        log.warning("gateway: no identity key given; using a random one for this process")
        identity_key = os.urandom(32)
    shedder = LoadShedder(config.shedding, clock, metrics)
    filters: list[InboundFilter] = [
        RequestIdFilter(),
        RouteFilter(table),
        SheddingFilter(shedder),
        AuthFilter(validator, identity_key, clock, metrics, cookie_name=config.session_cookie),
        BodyLimitFilter(config.max_body_bytes),
        *inbound,
    ]
    rl = config.rate_limit
    if rl.enabled:
        limiter = RateLimiter(rl.rate, rl.burst, clock, max_clients=rl.max_clients)
        filters.append(RateLimitFilter(limiter, metrics, trust_forwarded=config.trust_forwarded))
    endpoint = ProxyEndpoint(
        ctx.clients,
        FallbackProvider(clock, metrics),
        default_body_limit=config.max_body_bytes,
        trust_forwarded=config.trust_forwarded,
    )
    outbound_filters: list[OutboundFilter] = [ResponseHeadersFilter(), *outbound]
    cors = CorsPolicy(config.cors)
    if cors.enabled:  # none by default: the web app and the console are same-origin
        filters.append(CorsPreflightFilter(cors))
        outbound_filters.append(CorsHeadersFilter(cors))
    chain = FilterChain(filters, endpoint, outbound_filters)
    return Gateway(
        chain, table, shedder, clock, metrics, on_startup=on_startup, on_shutdown=on_shutdown
    )
