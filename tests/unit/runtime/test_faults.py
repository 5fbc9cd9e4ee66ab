"""Failure injection: the /faults API, which requests are faulted, and where it is installed."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter
from pydantic import ValidationError

from matinee.clock import FakeClock
from matinee.runtime.app import ServiceSpec, build_instance, create_service_app
from matinee.runtime.config import load_runtime_config
from matinee.runtime.context import Node, RuntimeConfig, build_context
from matinee.runtime.faults import Fault, FaultInjector, FaultMiddleware
from matinee.runtime.transport import AsgiTransport, Receive, Response, Scope, Send
from matinee.settings import Settings
from matinee.telemetry.metrics import Registry

URL = "http://svc.local"


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"
    body = f"hello {scope['path']}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def injector(seed: int = 7) -> tuple[FaultInjector, Registry]:
    metrics = Registry(FakeClock())
    return FaultInjector(random.Random(seed), metrics), metrics


def injected(metrics: Registry, prefix: str, status: str) -> float:
    return metrics.counter("runtime.fault.injected", path_prefix=prefix, status=status).value


# -- which requests are faulted -------------------------------------------------------------


def test_the_longest_prefix_on_whole_segments_wins() -> None:
    inj, metrics = injector()
    assert inj.pick("/api/assets") is None  # nothing in force
    inj.put(Fault(status=500, path_prefix="/api"))
    inj.put(Fault(status=503, path_prefix="/api/assets"))
    picked = inj.pick("/api/assets/7")
    assert picked is not None
    assert picked.status == 503
    picked = inj.pick("/api/other")
    assert picked is not None
    assert picked.status == 500
    assert inj.pick("/apix") is None
    assert inj.pick("/media/x") is None
    assert injected(metrics, "/api/assets", "503") == 1
    assert injected(metrics, "/api", "500") == 1


def test_probes_metrics_breakers_and_the_api_itself_are_never_faulted() -> None:
    inj, _ = injector()
    inj.put(Fault(status=500))  # path_prefix "/": everything else
    for path in ("/healthz", "/readyz", "/metrics", "/faults", "/resilience/breakers"):
        assert inj.pick(path) is None
    assert inj.pick("/") is not None
    assert inj.pick("/anything") is not None


def test_rate_is_drawn_from_the_seeded_rng() -> None:
    def faulted(seed: int, rate: float) -> list[int]:
        inj, _ = injector(seed)
        inj.put(Fault(status=500, rate=rate, path_prefix="/x"))
        return [n for n in range(1000) if inj.pick("/x") is not None]

    assert faulted(1, 0.25) == faulted(1, 0.25)  # the same seed, the same requests
    assert faulted(1, 0.25) != faulted(2, 0.25)
    assert 200 <= len(faulted(1, 0.25)) <= 300
    assert faulted(1, 0.0) == []
    assert len(faulted(1, 1.0)) == 1000


def test_faults_are_replaced_by_prefix_and_removed() -> None:
    inj, _ = injector()
    inj.put(Fault(status=500, path_prefix="/a"))
    inj.put(Fault(latency_s=0.1, path_prefix="/a"))
    inj.put(Fault(status=502, path_prefix="/b"))
    assert [(f.path_prefix, f.status) for f in inj.faults()] == [("/a", None), ("/b", 502)]
    assert inj.remove("/a") == 1
    assert inj.remove("/a") == 0
    assert inj.remove() == 1
    assert inj.faults() == []


def test_a_fault_must_do_something_sensible() -> None:
    with pytest.raises(ValidationError, match="status, a latency, or both"):
        Fault()
    with pytest.raises(ValidationError, match="must start with '/'"):
        Fault(status=500, path_prefix="api")
    with pytest.raises(ValidationError):
        Fault(status=500, rate=1.5)
    with pytest.raises(ValidationError):
        Fault(status=99)
    assert Fault(latency_s=0.2).covers("/deep/path")


# -- the middleware and its API -------------------------------------------------------------


class Harness:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.inj, self.metrics = injector()
        self.transport = AsgiTransport({"svc.local": FaultMiddleware(hello, self.inj, self.clock)})

    async def call(self, method: str, path: str, body: object = None) -> Response:
        data = b"" if body is None else json.dumps(body).encode()
        return await self.transport.request(method, URL + path, [], data)


def test_an_injected_status_answers_in_place_of_the_service_after_the_latency() -> None:
    async def main() -> None:
        h = Harness()
        fault = {"status": 500, "latency_s": 0.05, "rate": 1.0, "path_prefix": "/api"}
        put = await h.call("PUT", "/faults", fault)
        assert put.status == 200
        assert put.json() == {"faults": [fault]}
        start = h.clock.monotonic()
        answer = await h.call("GET", "/api/assets")
        assert answer.status == 500
        assert answer.json()["error"] == "injected_fault"
        assert h.clock.monotonic() - start == pytest.approx(0.05)
        assert (await h.call("GET", "/media/a")).body == b"hello /media/a"
        assert injected(h.metrics, "/api", "500") == 1

    run(main())


def test_latency_alone_delays_then_reaches_the_service() -> None:
    async def main() -> None:
        h = Harness()
        assert (await h.call("PUT", "/faults", {"latency_s": 1.5})).status == 200
        start = h.clock.monotonic()
        answer = await h.call("GET", "/x")
        assert (answer.status, answer.body) == (200, b"hello /x")
        assert h.clock.monotonic() - start == pytest.approx(1.5)
        assert injected(h.metrics, "/", "none") == 1

    run(main())


def test_the_api_lists_removes_and_refuses_nonsense() -> None:
    async def main() -> None:
        h = Harness()
        await h.call("PUT", "/faults", {"status": 503, "path_prefix": "/a"})
        await h.call("PUT", "/faults", {"status": 504, "path_prefix": "/b"})
        listed = (await h.call("GET", "/faults")).json()["faults"]
        assert [f["path_prefix"] for f in listed] == ["/a", "/b"]
        one = await h.call("DELETE", "/faults?path_prefix=/a")
        assert [f["path_prefix"] for f in one.json()["faults"]] == ["/b"]
        assert (await h.call("DELETE", "/faults")).json() == {"faults": []}
        assert (await h.call("GET", "/a")).status == 200
        bad = await h.call("PUT", "/faults", {"status": 500, "rate": 2})
        assert bad.status == 422
        assert bad.json()["error"] == "invalid_request"
        assert (await h.call("PUT", "/faults", {"colour": "red"})).status == 422
        refused = await h.call("POST", "/faults", {"status": 500})
        assert refused.status == 405
        assert refused.header("allow") == "GET, PUT, DELETE"
        assert (await h.call("GET", "/faults")).json() == {"faults": []}

    run(main())


# -- where it is installed ------------------------------------------------------------------


def items(_: object) -> APIRouter:
    api = APIRouter()

    @api.get("/items")
    async def listing() -> list[int]:
        return [1, 2]

    return api


def node(tmp_path: Path, *, enabled: bool) -> Node:
    config = RuntimeConfig(fault_injection=enabled)
    return Node(Settings(data_dir=tmp_path), config, AsgiTransport(), clock=FakeClock())


def test_every_kind_of_service_answers_faults_only_when_enabled(tmp_path: Path) -> None:
    async def front(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await hello(scope, receive, send)

    async def main() -> None:
        for enabled in (True, False):
            n = node(tmp_path, enabled=enabled)
            ctx = build_context("items", n, instance_id="items-1", host="items.local", port=80)
            app = create_service_app(ServiceSpec("items", build=items), ctx)
            front_ctx = build_context("front", n, instance_id="f-1", host="front.local", port=80)
            gateway = build_instance(ServiceSpec("front", asgi=lambda _: front), front_ctx)
            t = AsgiTransport({"items.local": app, "front.local": gateway.app})
            fault = json.dumps({"status": 503, "path_prefix": "/"}).encode()
            for host in ("items.local", "front.local"):
                put = await t.request("PUT", f"http://{host}/faults", [], fault)
                if not enabled:  # a plain request to the service, not the fault API
                    expected = b"hello /faults" if host == "front.local" else None
                    assert put.status == 404 if expected is None else put.body == expected
                    continue
                assert put.status == 200, host
                assert (await t.request("GET", f"http://{host}/healthz")).status == 200
            faulted = await t.request("GET", "http://items.local/items")
            passed = await t.request("GET", "http://front.local/x")
            if enabled:
                assert faulted.status == 503
                assert passed.status == 503
                assert (
                    ctx.metrics.counter(
                        "runtime.fault.injected", path_prefix="/", status="503"
                    ).value
                    == 2
                )
            else:
                assert faulted.json() == [1, 2]
                assert passed.body == b"hello /x"

    run(main())


def test_the_setting_turns_it_on(tmp_path: Path) -> None:
    assert not load_runtime_config(Settings(data_dir=tmp_path)).fault_injection
    assert load_runtime_config(Settings(data_dir=tmp_path, fault_injection=True)).fault_injection
