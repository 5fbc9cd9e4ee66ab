"""The service app factory: health, readiness, tracing, metrics, errors, limits, lifecycle."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, HTTPException

from matinee.discovery.config import DiscoveryConfig
from matinee.errors import MatineeError
from matinee.runtime import tracing
from matinee.runtime.app import (
    ServiceInstance,
    ServiceSpec,
    build_instance,
    create_service_app,
)
from matinee.runtime.context import LimitConfig, Node, RuntimeConfig, ServiceContext, build_context
from matinee.runtime.lifecycle import StartupFailed, asgi_lifespan
from matinee.runtime.transport import AsgiTransport, Receive, Response, Scope, Send
from matinee.services import registry
from matinee.settings import Settings


class Missing(MatineeError):
    pass


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


def items(ctx: ServiceContext) -> APIRouter:
    api = APIRouter()

    @api.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, Any]:
        if item_id == 404:
            raise Missing(f"no item {item_id}")
        if item_id == 418:
            raise HTTPException(418, "short and stout")
        if item_id == 500:
            raise RuntimeError("secret internals")
        trace = tracing.current_trace()
        return {
            "item": item_id,
            "service": ctx.service,
            "trace_id": trace.trace_id if trace else None,
            "request_id": tracing.current_request_id(),
        }

    @api.get("/slow")
    async def slow() -> dict[str, bool]:
        await asyncio.sleep(0.3)
        return {"done": True}

    @api.get("/other")
    async def other() -> Any:
        response = await ctx.clients.get("nowhere").request("GET", "/x")
        return response.json()

    return api


SPEC = ServiceSpec("items", build=items, errors=((Missing, 404),))


@dataclass
class Setup:
    transport: AsgiTransport
    node: Node
    registry: ServiceInstance

    def context(self, service: str = "items", n: int = 1) -> ServiceContext:
        return build_context(
            service, self.node, instance_id=f"{service}-{n}", host=f"{service}-{n}.local", port=80
        )

    async def get(self, url: str, headers: list[tuple[str, str]] | None = None) -> Response:
        return await self.transport.request("GET", url, headers or [], b"")

    async def registered(self, app: str) -> list[str]:
        answer = await self.get(
            f"http://registry-1.local/eureka/apps/{app}", [("accept", "application/json")]
        )
        if answer.status == 404:
            return []
        found = answer.json()["application"]["instance"]
        return sorted(i["instanceId"] for i in found)


@asynccontextmanager
async def setup(tmp_path: Path, limit: LimitConfig | None = None) -> AsyncIterator[Setup]:
    transport = AsgiTransport()
    discovery = DiscoveryConfig(registry_urls=("http://registry-1.local/eureka",))
    config = RuntimeConfig(limit=limit or LimitConfig(), drain_timeout=2.0, discovery=discovery)
    node = Node(Settings(data_dir=tmp_path), config, transport)
    ctx = build_context(
        "registry", node, instance_id="registry-1", host="registry-1.local", port=80
    )
    reg = build_instance(registry.SPEC, ctx)
    transport.mount("registry-1.local", reg.app)
    await reg.runtime.start()
    try:
        yield Setup(transport, node, reg)
    finally:
        await reg.runtime.stop()


def test_ready_only_while_registered(tmp_path: Path) -> None:
    async def main() -> None:
        async with setup(tmp_path) as s:
            app = build_instance(SPEC, s.context())
            s.transport.mount("items-1.local", app.app)
            health = await s.get("http://items-1.local/healthz")
            assert health.status == 200
            assert health.json()["instance"] == "items-1"
            assert (await s.get("http://items-1.local/readyz")).status == 503
            await app.runtime.start()
            assert (await s.get("http://items-1.local/readyz")).status == 200
            assert await s.registered("ITEMS") == ["items-1"]
            await app.runtime.deregister()
            assert (await s.get("http://items-1.local/readyz")).json()["status"] == "DOWN"
            assert await s.registered("ITEMS") == []
            await app.runtime.stop()
            await app.runtime.stop()  # idempotent

    run(main())


def test_not_ready_until_the_registry_has_taken_the_registration(tmp_path: Path) -> None:
    async def main() -> None:
        async with setup(tmp_path) as s:
            s.transport.unmount("registry-1.local")  # the registry is not up yet
            app = build_instance(SPEC, s.context())
            s.transport.mount("items-1.local", app.app)
            await app.runtime.start()  # starts anyway; its discovery client keeps retrying
            assert (await s.get("http://items-1.local/readyz")).status == 503
            s.transport.mount("registry-1.local", s.registry.app)
            assert await app.runtime.ctx.discovery.register()
            assert (await s.get("http://items-1.local/readyz")).status == 200
            await app.runtime.stop()

    run(main())


def test_continues_the_callers_trace_and_echoes_the_request_id(tmp_path: Path) -> None:
    async def main() -> None:
        async with setup(tmp_path) as s:
            ctx = s.context()
            s.transport.mount("items-1.local", create_service_app(SPEC, ctx))
            caller = tracing.new_trace()
            sent = [("traceparent", caller.traceparent), ("x-request-id", "abc-123")]
            answer = await s.get("http://items-1.local/items/7", sent)
            assert answer.json() == {
                "item": 7,
                "service": "items",
                "trace_id": caller.trace_id,
                "request_id": "abc-123",
            }
            assert answer.header("x-request-id") == "abc-123"
            fresh = await s.get("http://items-1.local/items/8")
            assert fresh.header("x-request-id") == fresh.json()["request_id"]
            assert tracing.current_trace() is None  # nothing leaks into the caller's context
            timer = ctx.metrics.timer(
                "ipc.server.call", service="items", route="/items/{item_id}", status="200"
            )
            assert timer.count == 2
            metrics = await s.get("http://items-1.local/metrics")
            assert b"ipc_server_call" in metrics.body

    run(main())


def test_errors_are_json_in_plain_words(tmp_path: Path) -> None:
    async def main() -> None:
        async with setup(tmp_path) as s:
            s.transport.mount("items-1.local", create_service_app(SPEC, s.context()))

            async def error(path: str) -> tuple[int, dict[str, Any]]:
                answer = await s.get(f"http://items-1.local{path}")
                return answer.status, json.loads(answer.body)

            status, body = await error("/items/404")
            assert (status, body["error"], body["message"]) == (404, "missing", "no item 404")
            assert body["request_id"]
            status, body = await error("/items/418")
            assert (status, body["error"], body["message"]) == (418, "error", "short and stout")
            status, body = await error("/items/abc")
            assert (status, body["error"]) == (422, "invalid_request")
            assert "item_id" in body["message"]
            status, body = await error("/items/500")
            assert (status, body["error"]) == (500, "internal")
            assert "secret" not in json.dumps(body)
            status, body = await error("/other")  # a dependency with no instance
            assert (status, body["error"]) == (502, "no_instance")
            status, body = await error("/nothing-here")
            assert (status, body["error"]) == (404, "not_found")

    run(main())


def test_concurrency_limit_sheds_but_not_health(tmp_path: Path) -> None:
    async def main() -> None:
        async with setup(tmp_path, LimitConfig(initial=1, min=1, max=1)) as s:
            s.transport.mount("items-1.local", create_service_app(SPEC, s.context()))
            slow = asyncio.create_task(s.get("http://items-1.local/slow"))
            await asyncio.sleep(0.05)
            refused = await s.get("http://items-1.local/items/1")
            health = await s.get("http://items-1.local/healthz")
            assert (await slow).status == 200
            assert refused.status == 503
            assert refused.json()["error"] == "overloaded"
            assert refused.header("retry-after") == "1"
            assert health.status == 200

    run(main())


def test_stop_drains_requests_in_flight(tmp_path: Path) -> None:
    async def main() -> None:
        async with setup(tmp_path) as s:
            app = build_instance(SPEC, s.context())
            s.transport.mount("items-1.local", app.app)
            await app.runtime.start()
            slow = asyncio.create_task(s.get("http://items-1.local/slow"))
            await asyncio.sleep(0.05)
            assert app.runtime.inflight == 1
            await app.runtime.stop()
            assert slow.done()
            assert (await slow).status == 200
            assert app.runtime.inflight == 0

    run(main())


def test_a_whole_asgi_service_gets_its_lifespan_run(tmp_path: Path) -> None:
    events: list[str] = []

    def make(ctx: ServiceContext) -> Any:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "lifespan":
                while True:
                    message = await receive()
                    events.append(message["type"])
                    await send({"type": message["type"] + ".complete"})
                    if message["type"] == "lifespan.shutdown":
                        return
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": ctx.service.encode()})

        return app

    async def main() -> None:
        async with setup(tmp_path) as s:
            instance = build_instance(ServiceSpec("front", asgi=make), s.context("front"))
            s.transport.mount("front-1.local", instance.app)
            await instance.runtime.start()
            assert await s.registered("FRONT") == ["front-1"]
            assert (await s.get("http://front-1.local/")).body == b"front"
            await instance.runtime.stop()
            assert await s.registered("FRONT") == []

    run(main())
    assert events == ["lifespan.startup", "lifespan.shutdown"]


def test_asgi_lifespan_without_support_and_with_a_failure() -> None:
    async def no_lifespan(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"

    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    async def main() -> None:
        async with asgi_lifespan(no_lifespan):
            pass
        with pytest.raises(StartupFailed, match="no database"):
            async with asgi_lifespan(failing):
                pass

    run(main())


def test_a_spec_has_exactly_one_kind() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        ServiceSpec("x")
    with pytest.raises(ValueError, match="exactly one"):
        ServiceSpec("x", build=items, asgi=lambda ctx: None)  # type: ignore[arg-type,return-value]
