"""Zuul's filter chain: inbound filters, one endpoint, outbound filters.

Each filter has an ``order`` (lower runs first) and ``should_filter(ctx)``. An inbound filter may
answer the request itself by returning a response (or raising a :class:`GatewayError`); the
endpoint is then skipped, but outbound filters still run, so every answer carries the same
headers and is measured the same way. Any exception becomes a response in ``gateway.errors``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any, Protocol

from matinee.gateway.errors import BadRequest, PayloadTooLarge, RouteNotFound, error_response
from matinee.gateway.response import GatewayResponse
from matinee.runtime import tracing

if TYPE_CHECKING:
    from matinee.gateway.auth import Identity
    from matinee.gateway.routes import Route, RouteTable

log = logging.getLogger(__name__)

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Finalizer = Callable[["RequestContext", GatewayResponse], None]


class RequestContext:
    """Everything the filters know about one request. Header names are lower-case (ASGI)."""

    __slots__ = (
        "_finalizers",
        "_receive",
        "attrs",
        "body",
        "client",
        "endpoint",
        "headers",
        "identity",
        "method",
        "path",
        "priority",
        "query",
        "raw_path",
        "request_id",
        "route",
        "scheme",
        "start",
        "trace",
        "upstream_headers",
    )

    def __init__(
        self,
        method: str,
        path: str,
        *,
        raw_path: str | None = None,
        query: str = "",
        headers: list[tuple[str, str]] | None = None,
        client: str | None = None,
        scheme: str = "http",
        receive: Receive | None = None,
        body: bytes | None = None,
        start: float = 0.0,
    ) -> None:
        self.method = method
        self.path = path
        self.raw_path = raw_path if raw_path is not None else path
        self.query = query
        self.headers: list[tuple[str, str]] = headers if headers is not None else []
        self.client = client
        self.scheme = scheme
        self._receive = receive
        self.body = body
        self.start = start
        self.route: Route | None = None
        self.priority = 0
        self.request_id = ""
        self.trace: tracing.TraceContext | None = None
        self.identity: Identity | None = None
        # Headers filters add for the upstream only (never visible to the client).
        self.upstream_headers: list[tuple[str, str]] = []
        self.endpoint: EndpointFilter | None = None
        self.attrs: dict[str, object] = {}
        self._finalizers: list[Finalizer] = []

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def on_complete(self, fn: Finalizer) -> None:
        """Run ``fn(ctx, response)`` when the request ends, even if the client went away."""
        self._finalizers.append(fn)

    def complete(self, response: GatewayResponse) -> None:
        for fn in self._finalizers:
            try:
                fn(self, response)
            except Exception:  # one broken finalizer must not keep the others from running
                log.exception("a request finalizer failed")
        self._finalizers.clear()

    async def read_body(self, limit: int | None = None) -> bytes:
        """The whole request body; :class:`PayloadTooLarge` once it passes ``limit`` bytes."""
        if self.body is not None:
            if limit is not None and len(self.body) > limit:
                raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
            return self.body
        if self._receive is None:
            self.body = b""
            return self.body
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self._receive()
            if message["type"] != "http.request":  # http.disconnect: never forward half a body
                raise BadRequest("The client went away before sending the whole body.")
            chunk: bytes = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if limit is not None and size > limit:
                    raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        self.body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return self.body


class InboundFilter(Protocol):
    name: str
    order: int

    def should_filter(self, ctx: RequestContext) -> bool: ...

    async def apply(self, ctx: RequestContext) -> GatewayResponse | None:
        """Return a response to answer now, or None to go on."""
        ...


class EndpointFilter(Protocol):
    name: str

    async def apply(self, ctx: RequestContext) -> GatewayResponse: ...


class OutboundFilter(Protocol):
    name: str
    order: int

    def should_filter(self, ctx: RequestContext) -> bool: ...

    async def apply(self, ctx: RequestContext, response: GatewayResponse) -> GatewayResponse: ...


def _order(f: InboundFilter | OutboundFilter) -> int:
    return f.order


class FilterChain:
    """Runs inbound filters by order, then the endpoint, then outbound filters by order."""

    def __init__(
        self,
        inbound: Iterable[InboundFilter],
        endpoint: EndpointFilter,
        outbound: Iterable[OutboundFilter] = (),
    ) -> None:
        self.inbound: tuple[InboundFilter, ...] = tuple(sorted(inbound, key=_order))
        self.endpoint = endpoint
        self.outbound: tuple[OutboundFilter, ...] = tuple(sorted(outbound, key=_order))

    async def run(self, ctx: RequestContext) -> GatewayResponse:
        response: GatewayResponse | None = None
        try:
            for f in self.inbound:
                if f.should_filter(ctx):
                    response = await f.apply(ctx)
                    if response is not None:
                        break
            if response is None:
                response = await (ctx.endpoint or self.endpoint).apply(ctx)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an HTTP answer here
            response = error_response(exc, ctx.request_id)
        for out in self.outbound:
            if out.should_filter(ctx):
                try:
                    response = await out.apply(ctx, response)
                except Exception as exc:  # noqa: BLE001 - same: an answer, never a traceback
                    response = error_response(exc, ctx.request_id)
        return response

    def describe(self) -> dict[str, list[str]]:
        return {
            "inbound": [f"{f.order}:{f.name}" for f in self.inbound],
            "endpoint": [self.endpoint.name],
            "outbound": [f"{f.order}:{f.name}" for f in self.outbound],
        }


# ---------------------------------------------------------------------------------------------
# Inbound filters that need nothing but the request.


class RequestIdFilter:
    """Request id and W3C trace context (order 10).

    Keeps the client's ``x-request-id`` when it is a short plain token, and continues the
    client's trace with the gateway's own span (a new trace when there is none). Both become
    current (``runtime.tracing``) so the client stack sends them on, with a child span.
    """

    name = "request_id"
    order = 10

    def should_filter(self, ctx: RequestContext) -> bool:
        return True

    async def apply(self, ctx: RequestContext) -> GatewayResponse | None:
        trace, request_id = tracing.extract(ctx.headers)
        ctx.trace = trace
        ctx.request_id = request_id
        binding = tracing.bind(trace, request_id)
        ctx.on_complete(lambda _ctx, _resp: tracing.unbind(binding))
        return None


class RouteFilter:
    """Find the route for the path (order 20): 404 when none, 400 on dot segments."""

    name = "route"
    order = 20

    def __init__(self, table: RouteTable) -> None:
        self.table = table

    def should_filter(self, ctx: RequestContext) -> bool:
        return True

    async def apply(self, ctx: RequestContext) -> GatewayResponse | None:
        path = ctx.path
        if "/." in path and any(seg in (".", "..") for seg in path.split("/")):
            raise BadRequest("The path may not contain '.' or '..' segments.")
        route = self.table.match(path)
        if route is None:
            raise RouteNotFound(f"No service answers {path}.")
        ctx.route = route
        return None


class BodyLimitFilter:
    """Refuse bodies over the route's (or the default) limit with 413 (order 60).

    A declared ``content-length`` over the limit is refused before any byte is read; a
    chunked body is read up to the limit and refused as soon as it passes it.
    """

    name = "body_limit"
    order = 60

    def __init__(self, default_limit: int) -> None:
        self.default_limit = default_limit

    def should_filter(self, ctx: RequestContext) -> bool:
        return ctx.method not in ("GET", "HEAD") or ctx.header("content-length") is not None

    async def apply(self, ctx: RequestContext) -> GatewayResponse | None:
        route = ctx.route
        limit = route.max_body if route is not None and route.max_body is not None else None
        if limit is None:
            limit = self.default_limit
        declared = ctx.header("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise BadRequest("The content-length header is not a number.")
            if int(declared) > limit:
                raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        await ctx.read_body(limit)
        return None


class ResponseHeadersFilter:
    """Tell the client the request id (order 10, outbound)."""

    name = "response_headers"
    order = 10

    def should_filter(self, ctx: RequestContext) -> bool:
        return True

    async def apply(self, ctx: RequestContext, response: GatewayResponse) -> GatewayResponse:
        if ctx.request_id and response.header("x-request-id") is None:  # a service may echo it
            response.headers.append(("x-request-id", ctx.request_id))
        return response
