from __future__ import annotations

import asyncio

from matinee.gateway.app import create_gateway
from matinee.gateway.auth import Identity
from matinee.gateway.routes import LastGoodFallback, Route, StaticFallback
from matinee.resilience.errors import CircuitOpen, NoInstance
from matinee.runtime import tracing
from matinee.runtime.transport import Response

from .fakes import Call, FakeContext, call, ok

CLIENT_TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_request_is_forwarded_clean() -> None:
    ctx = FakeContext()
    app = create_gateway(
        ctx, [Route("/api/catalog", "catalog", strip_prefix=True, priority=70)], identity_key=b"k"
    )
    headers = [
        ("host", "matinee.example"),
        ("connection", "keep-alive, x-hop"),
        ("keep-alive", "timeout=5"),
        ("x-hop", "named by connection"),
        ("transfer-encoding", "chunked"),
        ("te", "trailers"),
        ("upgrade", "h2c"),
        ("x-forwarded-for", "10.9.9.9"),
        ("accept", "application/json"),
        ("content-type", "application/json"),
    ]
    reply = asyncio.run(
        call(app, "POST", "/api/catalog/titles/7", headers=headers, body=b"{}", query="a=1&b=2")
    )
    assert reply.status == 200
    (sent,) = ctx.clients.calls
    assert (sent.service, sent.method, sent.path) == ("catalog", "POST", "/titles/7?a=1&b=2")
    assert sent.body == b"{}"
    assert sent.idempotent is False
    names = {k for k, _ in sent.headers}
    assert not names & {
        "host",
        "connection",
        "keep-alive",
        "x-hop",
        "transfer-encoding",
        "te",
        "upgrade",
        "content-length",
    }
    assert sent.header("accept") == "application/json"
    # the gateway is the edge: a client's X-Forwarded-For is not trusted
    assert sent.all("x-forwarded-for") == ["203.0.113.7"]
    assert sent.header("x-forwarded-proto") == "http"
    assert sent.header("x-forwarded-host") == "matinee.example"
    assert sent.header("x-matinee-priority") == "70"


def test_response_loses_hop_by_hop_headers_and_gets_the_request_id() -> None:
    ctx = FakeContext()
    ctx.clients.answer(
        "media",
        Response(
            201,
            [
                ("Connection", "close"),
                ("Content-Length", "99"),
                ("Date", "Tue, 24 Nov 2026 08:00:00 GMT"),
                ("Server", "uvicorn"),
                ("X-Thing", "1"),
                ("X-Request-Id", "abc-123"),
            ],
            b"hi",
        ),
    )
    app = create_gateway(ctx, [Route("/", "media")], identity_key=b"k")
    reply = asyncio.run(call(app, "PUT", "/x", headers=[("x-request-id", "abc-123")]))
    assert reply.status == 201
    assert reply.body == b"hi"
    assert reply.header("connection") is None
    assert reply.header("content-length") == "2"
    assert reply.header("x-thing") == "1"
    assert reply.header("date") is None  # the gateway's own server sets date and server
    assert reply.header("server") is None
    assert [v for k, v in reply.headers if k == "x-request-id"] == ["abc-123"]  # once
    assert ctx.clients.calls[0].idempotent is True  # PUT


def test_trace_and_request_id_reach_the_upstream() -> None:
    ctx = FakeContext()
    app = create_gateway(ctx, [Route("/", "media")], identity_key=b"k")
    headers = [("traceparent", CLIENT_TRACE), ("x-request-id", "client-req-1")]

    async def main() -> None:
        reply = await call(app, "GET", "/x", headers=headers)
        assert reply.header("x-request-id") == "client-req-1"
        assert tracing.current_trace() is None  # nothing leaks out of the request

    asyncio.run(main())
    (sent,) = ctx.clients.calls
    assert sent.all("x-request-id") == ["client-req-1"]
    (parent,) = sent.all("traceparent")
    upstream_span = tracing.parse_traceparent(parent)
    assert upstream_span is not None
    assert upstream_span.trace_id == "0af7651916cd43dd8448eb211c80319c"  # same trace
    assert upstream_span.span_id != "b7ad6b7169203331"  # a new span, child of the gateway's


def test_a_new_trace_and_request_id_without_client_ones() -> None:
    ctx = FakeContext()
    app = create_gateway(ctx, [Route("/", "media")], identity_key=b"k")
    reply = asyncio.run(call(app, "GET", "/x", headers=[("traceparent", "garbage")]))
    (sent,) = ctx.clients.calls
    assert tracing.parse_traceparent(sent.header("traceparent")) is not None
    assert sent.header("x-request-id") == reply.header("x-request-id")
    assert len(reply.header("x-request-id") or "") == 32


def test_static_fallback_is_served_and_counted() -> None:
    ctx = FakeContext()
    ctx.clients.answer("homepage", CircuitOpen("open", dependency="homepage"))
    route = Route("/api/homepage", "homepage", fallback=StaticFallback.of_json({"rows": []}))
    app = create_gateway(ctx, [route], identity_key=b"k")
    for _ in range(2):
        reply = asyncio.run(call(app, "GET", "/api/homepage"))
        assert reply.status == 200
        assert reply.json() == {"rows": []}
        assert reply.header("x-gateway-fallback") == "static"
    counter = ctx.metrics.counter(
        "gateway.fallback", route="homepage", kind="static", cause="CircuitOpen"
    )
    assert counter.value == 2


def test_last_good_fallback_per_caller_and_only_while_fresh() -> None:
    ctx = FakeContext()
    state = {"up": True}

    async def catalog(c: Call) -> Response:
        if not state["up"]:
            raise NoInstance("none", dependency="catalog")
        return ok({"path": c.path})

    ctx.clients.behaviours["catalog"] = catalog

    class Validator:
        async def validate(self, token: str) -> Identity | None:
            return Identity(token)

    route = Route("/api/catalog", "catalog", fallback=LastGoodFallback(max_age=60))
    app = create_gateway(ctx, [route], validator=Validator(), identity_key=b"k")
    ann = [("authorization", "Bearer ann")]
    bob = [("authorization", "Bearer bob")]

    async def main() -> None:
        assert (await call(app, "GET", "/api/catalog/t", headers=ann)).status == 200
        state["up"] = False
        hit = await call(app, "GET", "/api/catalog/t", headers=ann)
        assert hit.status == 200
        assert hit.json() == {"path": "/api/catalog/t"}
        assert hit.header("x-gateway-fallback") == "last-good"
        # never someone else's answer, nor one for another path
        assert (await call(app, "GET", "/api/catalog/t", headers=bob)).status == 502
        assert (await call(app, "GET", "/api/catalog/u", headers=ann)).status == 502
        ctx.clock.advance(61)
        assert (await call(app, "GET", "/api/catalog/t", headers=ann)).status == 502

    asyncio.run(main())
    fallback = ctx.metrics.counter(
        "gateway.fallback", route="catalog", kind="last-good", cause="NoInstance"
    )
    miss = ctx.metrics.counter("gateway.fallback", route="catalog", kind="miss", cause="NoInstance")
    assert (fallback.value, miss.value) == (1, 3)


def test_route_timeout_is_504() -> None:
    ctx = FakeContext()

    async def hang(_: Call) -> Response:
        await asyncio.sleep(10)
        return ok()

    ctx.clients.behaviours["slow"] = hang
    app = create_gateway(ctx, [Route("/", "slow", timeout=0.01)], identity_key=b"k")
    reply = asyncio.run(call(app, "GET", "/x"))
    assert reply.status == 504
    assert reply.json()["error"] == "timeout"


def test_head_keeps_the_upstream_length() -> None:
    ctx = FakeContext()
    ctx.clients.answer("media", Response(200, [("content-length", "1234")], b""))
    app = create_gateway(ctx, [Route("/", "media")], identity_key=b"k")
    reply = asyncio.run(call(app, "HEAD", "/video.mp4"))
    assert reply.status == 200
    assert reply.header("content-length") == "1234"
    assert reply.body == b""


def test_only_a_framed_request_body_is_read() -> None:
    ctx = FakeContext()
    app = create_gateway(ctx, [Route("/", "media")], identity_key=b"k")
    framed = [("content-length", "2")]
    asyncio.run(call(app, "POST", "/things", headers=framed, body=b"{}"))
    # no content-length and no transfer-encoding: no body (RFC 9112 6.3), receive() is not asked
    asyncio.run(call(app, "DELETE", "/things/1", body=b"never read"))
    posted, deleted = ctx.clients.calls
    assert (posted.body, deleted.body) == (b"{}", b"")
