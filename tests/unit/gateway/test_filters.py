from __future__ import annotations

import asyncio

from matinee.gateway.app import create_gateway
from matinee.gateway.config import GatewayConfig
from matinee.gateway.errors import RateLimited
from matinee.gateway.filters import FilterChain, RequestContext
from matinee.gateway.response import GatewayResponse
from matinee.gateway.routes import Route

from .fakes import FakeContext, call


class Recorder:
    def __init__(
        self,
        name: str,
        order: int,
        log: list[str],
        *,
        answer: int | None = None,
        applies: bool = True,
        fail: Exception | None = None,
    ) -> None:
        self.name = name
        self.order = order
        self.log = log
        self.answer = answer
        self.applies = applies
        self.fail = fail

    def should_filter(self, ctx: RequestContext) -> bool:
        return self.applies

    async def apply(self, ctx: RequestContext) -> GatewayResponse | None:
        self.log.append(self.name)
        if self.fail is not None:
            raise self.fail
        return GatewayResponse(self.answer) if self.answer is not None else None


class OutRecorder:
    def __init__(self, name: str, order: int, log: list[str]) -> None:
        self.name = name
        self.order = order
        self.log = log

    def should_filter(self, ctx: RequestContext) -> bool:
        return True

    async def apply(self, ctx: RequestContext, response: GatewayResponse) -> GatewayResponse:
        self.log.append(f"{self.name}:{response.status}")
        return response


class Endpoint:
    name = "endpoint"

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def apply(self, ctx: RequestContext) -> GatewayResponse:
        self.log.append("endpoint")
        return GatewayResponse(200)


def test_filters_run_by_order_not_by_insertion() -> None:
    log: list[str] = []
    chain = FilterChain(
        [
            Recorder("c", 30, log),
            Recorder("a", 10, log),
            Recorder("skip", 15, log, applies=False),
            Recorder("b", 20, log),
        ],
        Endpoint(log),
        [OutRecorder("y", 20, log), OutRecorder("x", 10, log)],
    )
    response = asyncio.run(chain.run(RequestContext("GET", "/")))
    assert response.status == 200
    assert log == ["a", "b", "c", "endpoint", "x:200", "y:200"]
    assert chain.describe()["inbound"] == ["10:a", "15:skip", "20:b", "30:c"]


def test_an_inbound_answer_skips_the_endpoint_but_not_outbound() -> None:
    log: list[str] = []
    chain = FilterChain(
        [Recorder("a", 10, log, answer=418), Recorder("b", 20, log)],
        Endpoint(log),
        [OutRecorder("x", 10, log)],
    )
    assert asyncio.run(chain.run(RequestContext("GET", "/"))).status == 418
    assert log == ["a", "x:418"]


def test_an_inbound_error_becomes_its_answer_and_outbound_still_runs() -> None:
    log: list[str] = []
    chain = FilterChain(
        [Recorder("a", 10, log, fail=RateLimited("slow down", retry_after=2.2))],
        Endpoint(log),
        [OutRecorder("x", 10, log)],
    )
    response = asyncio.run(chain.run(RequestContext("GET", "/")))
    assert response.status == 429
    assert response.header("retry-after") == "3"
    assert log == ["a", "x:429"]


def test_extra_filters_join_the_gateway_chain_by_order() -> None:
    log: list[str] = []
    ctx = FakeContext()
    app = create_gateway(
        ctx,
        [Route("/", "media")],
        inbound=[Recorder("after_route", 25, log), Recorder("first", 1, log)],
        identity_key=b"k",
    )
    names = [f.name for f in app.chain.inbound]
    assert names == [
        "first",
        "request_id",
        "route",
        "after_route",
        "shedding",
        "auth",
        "rate_limit",
        "body_limit",
    ]
    assert asyncio.run(call(app, "GET", "/x")).status == 200
    assert log == ["first", "after_route"]


def test_declared_body_over_the_limit_is_413_before_reading() -> None:
    ctx = FakeContext()
    app = create_gateway(
        ctx, [Route("/", "media")], config=GatewayConfig(max_body_bytes=5), identity_key=b"k"
    )
    reply = asyncio.run(call(app, "POST", "/x", headers=[("content-length", "6")], body=b"123456"))
    assert reply.status == 413
    assert reply.json()["error"] == "payload_too_large"
    assert ctx.clients.calls == []


def test_chunked_body_over_the_limit_is_413_and_route_limits_win() -> None:
    ctx = FakeContext()
    app = create_gateway(
        ctx,
        [Route("/up", "uploads", max_body=10), Route("/", "media")],
        config=GatewayConfig(max_body_bytes=5),
        identity_key=b"k",
    )
    chunked = [("transfer-encoding", "chunked")]  # as an HTTP/1.1 server passes it on
    over = asyncio.run(call(app, "POST", "/x", headers=chunked, body=[b"123", b"456"]))
    assert over.status == 413
    reply = asyncio.run(call(app, "POST", "/up", headers=chunked, body=[b"12345", b"6789"]))
    assert reply.status == 200
    assert ctx.clients.calls[-1].body == b"123456789"
    too_big = [b"12345", b"678901"]
    assert asyncio.run(call(app, "POST", "/up", headers=chunked, body=too_big)).status == 413


def test_unknown_path_is_404_and_dot_segments_are_400() -> None:
    ctx = FakeContext()
    app = create_gateway(ctx, [Route("/api/a", "a")], identity_key=b"k")
    reply = asyncio.run(call(app, "GET", "/nowhere"))
    assert reply.status == 404
    body = reply.json()
    assert body["error"] == "not_found"
    assert body["request_id"] == reply.header("x-request-id")
    assert asyncio.run(call(app, "GET", "/api/a/../b")).status == 400
    assert ctx.clients.calls == []


def test_a_body_cut_short_is_never_forwarded() -> None:
    ctx = FakeContext()
    app = create_gateway(ctx, [Route("/", "media")], identity_key=b"k")

    async def receive() -> dict[str, object]:
        return {"type": "http.disconnect"}

    request = RequestContext("POST", "/x", receive=receive)
    response = asyncio.run(app.chain.run(request))
    assert response.status == 400
    assert ctx.clients.calls == []
