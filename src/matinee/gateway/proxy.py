"""The endpoint filter: forward the request to the route's service through the client stack.

The client stack (``runtime.client.ServiceClient``: discovery, balancer, resilience, transport)
is reached through the small :class:`Upstreams` protocol, and adds ``traceparent`` and
``x-request-id`` itself from the current trace. Here the request loses its hop-by-hop headers,
gains ``X-Forwarded-For/Proto/Host``, the internal identity and priority headers, and the
route's timeout. When the call fails, the route's fallback answers if it has one (Zuul's
FallbackProvider): a static JSON body, or the last good answer to the same GET.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from matinee.clock import Clock
from matinee.gateway.errors import RouteNotFound
from matinee.gateway.filters import RequestContext
from matinee.gateway.response import HOP_BY_HOP, RECOMPUTED, GatewayResponse, passthrough_headers
from matinee.gateway.routes import LastGoodFallback, Route, StaticFallback
from matinee.resilience.errors import CallTimeout, ResilienceError
from matinee.telemetry.metrics import Counter, Registry

log = logging.getLogger(__name__)

PRIORITY_UPSTREAM_HEADER = "x-matinee-priority"
FALLBACK_HEADER = "x-gateway-fallback"
# Set by the client stack from the current trace (a child of the gateway's span).
_TRACE_HEADERS = frozenset({"traceparent", "tracestate", "x-request-id"})
# Recomputed here (or, for ``expect``, already answered by reading the body).
_REPLACED = frozenset({"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "expect"})
_DROP = HOP_BY_HOP | RECOMPUTED | _TRACE_HEADERS | _REPLACED


class UpstreamResponse(Protocol):
    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> list[tuple[str, str]]: ...

    @property
    def body(self) -> bytes: ...


class Upstream(Protocol):
    """One service's client (``ServiceClient`` has this shape)."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: Sequence[tuple[str, str]] | None = None,
        body: bytes = b"",
        idempotent: bool | None = None,
        call_timeout: float | None = None,
    ) -> UpstreamResponse: ...


class Upstreams(Protocol):
    """Clients by service name (``runtime.client.Clients`` has this shape)."""

    def get(self, app: str) -> Upstream: ...


class FallbackProvider:
    """Answers for failed calls: a route's static body, or its last good answer (counted)."""

    def __init__(self, clock: Clock, metrics: Registry) -> None:
        self.clock = clock
        self.metrics = metrics
        self._last_good: dict[str, dict[str, tuple[float, GatewayResponse]]] = {}
        self._logged: set[tuple[str, str, str]] = set()
        self._counters: dict[tuple[str, str, str], Counter] = {}

    @staticmethod
    def _key(ctx: RequestContext) -> str:
        subject = ctx.identity.subject if ctx.identity is not None else ""
        return f"{ctx.method}|{ctx.raw_path}?{ctx.query}|{subject}"

    def remember(self, route: Route, ctx: RequestContext, response: GatewayResponse) -> None:
        """Keep a copy of a good GET answer, per caller (never served to someone else)."""
        spec = route.fallback
        if not isinstance(spec, LastGoodFallback) or ctx.method not in ("GET", "HEAD"):
            return
        if not 200 <= response.status < 300:
            return
        cache_control = response.header("cache-control")
        if cache_control is not None and "no-store" in cache_control:
            return
        entries = self._last_good.setdefault(route.name, {})
        key = self._key(ctx)
        entries.pop(key, None)
        if len(entries) >= spec.max_entries:
            del entries[next(iter(entries))]  # the least recently stored
        copy = GatewayResponse(response.status, list(response.headers), response.body)
        entries[key] = (self.clock.monotonic(), copy)

    def serve(self, route: Route, ctx: RequestContext, cause: Exception) -> GatewayResponse | None:
        spec = route.fallback
        if isinstance(spec, StaticFallback):
            resp = GatewayResponse(spec.status, [("content-type", spec.content_type)], spec.body)
            kind = "static"
        elif isinstance(spec, LastGoodFallback):
            hit = self._last_good.get(route.name, {}).get(self._key(ctx))
            if hit is None or self.clock.monotonic() - hit[0] > spec.max_age:
                self._count(route, "miss", cause)
                return None
            resp = GatewayResponse(hit[1].status, list(hit[1].headers), hit[1].body)
            kind = "last-good"
        else:
            return None
        resp.headers.append((FALLBACK_HEADER, kind))
        self._count(route, kind, cause)
        return resp

    def _count(self, route: Route, kind: str, cause: Exception) -> None:
        key = (route.name, kind, type(cause).__name__)
        counter = self._counters.get(key)
        if counter is None:
            counter = self.metrics.counter(
                "gateway.fallback", route=key[0], kind=key[1], cause=key[2]
            )
            self._counters[key] = counter
        counter.inc()
        if key not in self._logged:
            self._logged.add(key)
            if kind == "miss":
                log.warning("route %s failed (%s) and has no last good answer yet", *key[::2])
            else:
                log.warning("route %s failed (%s); serving its %s fallback", key[0], key[2], kind)


def forward_headers(ctx: RequestContext, *, trust_forwarded: bool) -> list[tuple[str, str]]:
    """The client's headers as the upstream should see them."""
    named: frozenset[str] = frozenset()
    connection = ctx.header("connection")
    if connection is not None:
        named = frozenset(t.strip().lower() for t in connection.split(","))
    out: list[tuple[str, str]] = []
    prior_for = prior_proto = prior_host = None
    host = None
    for k, v in ctx.headers:
        if k in _DROP or k in named:
            if k == "host":
                host = v
            elif k == "x-forwarded-for":
                prior_for = v
            elif k == "x-forwarded-proto":
                prior_proto = v
            elif k == "x-forwarded-host":
                prior_host = v
            continue
        out.append((k, v))
    client = ctx.client or "unknown"
    if trust_forwarded and prior_for:
        out.append(("x-forwarded-for", f"{prior_for}, {client}"))
        out.append(("x-forwarded-proto", prior_proto or ctx.scheme))
        if prior_host or host:
            out.append(("x-forwarded-host", prior_host or host or ""))
    else:
        out.append(("x-forwarded-for", client))
        out.append(("x-forwarded-proto", ctx.scheme))
        if host:
            out.append(("x-forwarded-host", host))
    out.append((PRIORITY_UPSTREAM_HEADER, str(ctx.priority)))
    out.extend(ctx.upstream_headers)
    return out


class ProxyEndpoint:
    """The endpoint filter: one call through the route's service client."""

    name = "proxy"

    def __init__(
        self,
        upstreams: Upstreams,
        fallbacks: FallbackProvider,
        *,
        default_body_limit: int,
        trust_forwarded: bool = False,
    ) -> None:
        self.upstreams = upstreams
        self.fallbacks = fallbacks
        self.default_body_limit = default_body_limit
        self.trust_forwarded = trust_forwarded
        self._clients: dict[str, Upstream] = {}

    def _client(self, service: str) -> Upstream:
        client = self._clients.get(service)
        if client is None:
            client = self._clients[service] = self.upstreams.get(service)
        return client

    async def apply(self, ctx: RequestContext) -> GatewayResponse:
        route = ctx.route
        if route is None:  # the route filter answers 404 before we get here
            raise RouteNotFound(f"No service answers {ctx.path}.")
        body = ctx.body
        if body is None:
            limit = route.max_body if route.max_body is not None else self.default_body_limit
            body = await ctx.read_body(limit)
        path = route.upstream_path(ctx.raw_path)
        if ctx.query:
            path = f"{path}?{ctx.query}"
        headers = forward_headers(ctx, trust_forwarded=self.trust_forwarded)
        try:
            upstream = await self._call(route, ctx.method, path, headers, body)
        except ResilienceError as exc:
            if route.fallback is not None:
                fallback = self.fallbacks.serve(route, ctx, exc)
                if fallback is not None:
                    return fallback
            raise
        response = GatewayResponse(
            upstream.status, passthrough_headers(upstream.headers), upstream.body
        )
        if ctx.method == "HEAD":  # no body, but the length of the one a GET would get
            for k, v in upstream.headers:
                if k.lower() == "content-length":
                    response.headers.append(("content-length", v))
        if route.fallback is not None:
            self.fallbacks.remember(route, ctx, response)
        return response

    async def _call(
        self, route: Route, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> UpstreamResponse:
        client = self._client(route.service)
        idempotent = method in route.idempotent_methods
        if route.timeout is None:
            return await client.request(
                method, path, headers=headers, body=body, idempotent=idempotent
            )
        try:  # the route's timeout replaces the dependency's, so it may also be longer
            async with asyncio.timeout(route.timeout):
                return await client.request(
                    method,
                    path,
                    headers=headers,
                    body=body,
                    idempotent=idempotent,
                    call_timeout=route.timeout,
                )
        except TimeoutError as exc:
            raise CallTimeout(
                f"{route.service} did not answer within {route.timeout:g} s",
                dependency=route.service,
            ) from exc
