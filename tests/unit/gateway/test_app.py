from __future__ import annotations

import asyncio
import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import httpx

from matinee.clock import FakeClock
from matinee.discovery.models import InstanceInfo
from matinee.gateway.app import create_gateway
from matinee.gateway.auth import Identity, verify_identity
from matinee.gateway.routes import Route
from matinee.resilience.dependency import Dependencies
from matinee.runtime import tracing
from matinee.runtime.client import Clients
from matinee.runtime.transport import AsgiTransport
from matinee.telemetry.metrics import Registry

from .fakes import FakeContext, call

KEY = b"k" * 32


def test_own_endpoints_bypass_the_chain() -> None:
    ctx = FakeContext()
    app = create_gateway(ctx, [Route("/api/catalog", "catalog", priority=70)], identity_key=KEY)
    health = asyncio.run(call(app, "GET", "/healthz"))
    assert (health.status, health.json()) == (200, {"status": "ok"})
    routes = asyncio.run(call(app, "GET", "/gateway/routes")).json()
    assert routes["routes"][0]["prefix"] == "/api/catalog"
    assert routes["routes"][0]["priority"] == 70
    assert routes["filters"]["endpoint"] == ["proxy"]
    shedding = asyncio.run(call(app, "GET", "/gateway/shedding")).json()
    assert shedding == {"inflight": 0, "overload": 0.0, "shed": {}}
    assert ctx.clients.calls == []


def test_requests_are_timed_by_route_and_status() -> None:
    ctx = FakeContext()
    app = create_gateway(ctx, [Route("/api/catalog", "catalog")], identity_key=KEY)

    async def main() -> None:
        await call(app, "GET", "/api/catalog/a")
        await call(app, "GET", "/api/catalog/b")
        await call(app, "GET", "/elsewhere")

    asyncio.run(main())
    assert ctx.metrics.timer("gateway.requests", route="catalog", status="200").count == 2
    assert ctx.metrics.timer("gateway.requests", route="none", status="404").count == 1


def test_through_httpx_and_lifespan() -> None:
    ctx = FakeContext()
    started: list[str] = []

    async def up() -> None:
        started.append("up")

    async def down() -> None:
        started.append("down")

    app = create_gateway(
        ctx, [Route("/", "media")], identity_key=KEY, on_startup=[up], on_shutdown=[down]
    )

    async def lifespan() -> list[str]:
        inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        sent: list[str] = []

        async def receive() -> dict[str, Any]:
            return inbox.pop(0)

        async def send(message: Any) -> None:
            sent.append(message["type"])

        await app({"type": "lifespan"}, receive, send)
        return sent

    async def main() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            return await client.post("/players/x", content=b'{"a":1}')

    assert asyncio.run(lifespan()) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert started == ["up", "down"]
    reply = asyncio.run(main())
    assert reply.status_code == 200
    assert ctx.clients.calls[0].body == b'{"a":1}'


@dataclass
class OneInstance:
    instance: InstanceInfo

    def choose(self, exclude: Collection[str] = ()) -> InstanceInfo:
        return self.instance

    def on_start(self, instance: InstanceInfo) -> None:
        pass

    def on_finish(self, instance: InstanceInfo, ok: bool) -> None:
        pass


@dataclass
class StackContext:
    clock: FakeClock
    metrics: Registry
    clients: Clients


def test_through_the_real_client_stack() -> None:
    """Gateway -> ServiceClient -> resilience -> in-process transport -> a service app."""
    seen: list[dict[str, Any]] = []

    async def service(scope: Any, receive: Any, send: Any) -> None:
        headers = [(k.decode(), v.decode()) for k, v in scope["headers"]]
        seen.append({"path": scope["path"], "query": scope["query_string"], "headers": headers})
        body = json.dumps({"who": str(verify_identity(headers, KEY))}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    clock = FakeClock()
    metrics = Registry(clock)
    transport = AsgiTransport({"catalog-1.local:80": service})
    instance = InstanceInfo.for_service("catalog", "catalog-1", "catalog-1.local", 80)
    clients = Clients(
        lambda app: OneInstance(instance),
        Dependencies(clock, metrics),
        transport,
        metrics=metrics,
        caller="gateway",
    )

    class Validator:
        async def validate(self, token: str) -> Identity | None:
            return Identity("ann") if token == "t" else None

    app = create_gateway(
        StackContext(clock, metrics, clients),
        [Route("/api/catalog", "catalog", strip_prefix=True)],
        validator=Validator(),
        identity_key=KEY,
    )
    headers = [
        ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        ("x-request-id", "r-1"),
        ("authorization", "Bearer t"),
    ]
    reply = asyncio.run(call(app, "GET", "/api/catalog/titles", headers=headers, query="q=1"))
    assert reply.status == 200
    assert "ann" in reply.json()["who"]
    (request,) = seen
    assert request["path"] == "/titles"
    assert request["query"] == b"q=1"
    sent = request["headers"]
    parents = [v for k, v in sent if k == "traceparent"]
    assert len(parents) == 1  # the client stack's child span, never the client's header too
    span = tracing.parse_traceparent(parents[0])
    assert span is not None
    assert span.trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert [v for k, v in sent if k == "x-request-id"] == ["r-1"]
