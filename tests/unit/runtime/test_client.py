"""The client stack: balancer -> resilience -> transport, with in-process instances."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from matinee.clock import FakeClock
from matinee.discovery.balancer import LoadBalancer
from matinee.discovery.models import InstanceInfo
from matinee.resilience.dependency import Dependencies, DependencyConfig
from matinee.resilience.errors import (
    NoInstance,
    UpstreamConnectError,
    UpstreamReadTimeout,
    UpstreamStatusError,
)
from matinee.runtime import tracing
from matinee.runtime.client import Balancer, ClientConfig, Clients, ServiceClient
from matinee.runtime.transport import AsgiTransport, Response
from matinee.telemetry.metrics import Registry


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


def instance_app(name: str, behaviour: dict[str, str]) -> FastAPI:
    """An instance whose answer to ``/work`` is set by ``behaviour[name]``."""
    app = FastAPI()

    @app.api_route("/work", methods=["GET", "POST"])
    async def work(request: Request) -> JSONResponse:
        mode = behaviour.get(name, "ok")
        if mode == "slow":
            await asyncio.sleep(2)
        if mode.isdigit():
            return JSONResponse({"instance": name}, status_code=int(mode))
        return JSONResponse(
            {
                "instance": name,
                "traceparent": request.headers.get("traceparent"),
                "request_id": request.headers.get("x-request-id"),
                "query": request.url.query,
            }
        )

    return app


@dataclass
class Fixed:
    """An instance source with a fixed list (what discovery's cache would hold)."""

    found: list[InstanceInfo] = field(default_factory=list)

    def instances(self, app: str) -> list[InstanceInfo]:
        return [i for i in self.found if i.app == app.upper()]


@dataclass
class World:
    clock: FakeClock
    metrics: Registry
    transport: AsgiTransport
    source: Fixed
    behaviour: dict[str, str]
    balancer: LoadBalancer
    client: ServiceClient


def world(
    names: tuple[str, ...] = ("media-1", "media-2"),
    *,
    zone_of: dict[str, str] | None = None,
    config: DependencyConfig | None = None,
) -> World:
    clock = FakeClock()
    metrics = Registry(clock)
    behaviour: dict[str, str] = {}
    transport = AsgiTransport()
    source = Fixed()
    for name in names:
        host = f"{name}.local"
        zone = (zone_of or {}).get(name, "a")
        source.found.append(InstanceInfo.for_service("media", name, host, 80, zone=zone))
        transport.mount(host, instance_app(name, behaviour))
    balancer = LoadBalancer(source, "media", clock=clock, zone="a", metrics=metrics)
    deps = Dependencies(clock, metrics, default=config or DependencyConfig(timeout_s=1.0))
    client = ServiceClient(
        "media", balancer, deps.get("media"), transport, metrics=metrics, caller="gateway"
    )
    return World(clock, metrics, transport, source, behaviour, balancer, client)


def served_by(response: Response) -> str:
    name: str = response.json()["instance"]
    assert response.instance == name
    return name


def test_round_robin_over_instances() -> None:
    async def main() -> None:
        w = world()
        seen = [served_by(await w.client.request("GET", "/work")) for _ in range(4)]
        assert sorted(seen) == ["media-1", "media-1", "media-2", "media-2"]
        assert seen[0] != seen[1]

    run(main())


def test_connect_error_is_retried_on_another_instance_and_skipped() -> None:
    async def main() -> None:
        w = world()
        w.transport.unmount("media-1.local")  # as if the process died
        for _ in range(3):
            response = await w.client.request("POST", "/work", body=b"{}")
            assert served_by(response) == "media-2"
        assert w.balancer.skipped() == ["media-1"]
        assert w.metrics.counter("resilience.retry", dependency="media").value == 1

    run(main())


def test_status_5xx_raises_and_503_is_retried_only_when_idempotent() -> None:
    async def main() -> None:
        w = world()
        retries = w.metrics.counter("resilience.retry", dependency="media")
        w.behaviour["media-1"] = "503"
        answers = {served_by(await w.client.request("GET", "/work")) for _ in range(4)}
        assert answers == {"media-2"}  # every GET that met media-1 went on to media-2
        assert retries.value >= 2
        before = retries.value
        w.behaviour["media-2"] = "503"
        with pytest.raises(UpstreamStatusError) as caught:
            await w.client.request("POST", "/work")
        assert retries.value == before  # a POST is never retried on a 503
        assert caught.value.response.status == 503
        assert caught.value.instance in {"media-1", "media-2"}
        assert caught.value.dependency == "media"
        assert w.balancer.skipped() == []  # an instance that answers is alive

    run(main())


def test_4xx_is_an_answer_not_a_failure() -> None:
    async def main() -> None:
        w = world(("media-1",))
        w.behaviour["media-1"] = "404"
        response = await w.client.request("GET", "/work")
        assert response.status == 404
        assert w.client.dependency.breaker.snapshot()["errors"] == 0

    run(main())


def test_read_timeout_retries_idempotent_calls_only() -> None:
    async def main() -> None:
        w = world(config=DependencyConfig(timeout_s=1.0, retries=1))
        retries = w.metrics.counter("resilience.retry", dependency="media")
        assert w.client.attempt_timeout == 0.5  # the overall timeout split over two attempts
        w.behaviour["media-1"] = "slow"
        for _ in range(2):
            assert served_by(await w.client.request("GET", "/work")) == "media-2"
        assert retries.value == 1
        assert w.balancer.skipped() == ["media-1"]
        w.behaviour["media-2"] = "slow"
        with pytest.raises(UpstreamReadTimeout):
            await w.client.request("POST", "/work", attempt_timeout=0.05)
        assert retries.value == 1

    run(main())


def test_sends_a_child_span_and_the_request_id() -> None:
    async def main() -> None:
        w = world(("media-1",))
        caller = tracing.new_trace()
        with tracing.scope(caller, "req-42"):
            body = (await w.client.request("GET", "/work?a=1")).json()
        sent = tracing.parse_traceparent(body["traceparent"])
        assert sent is not None
        assert sent.trace_id == caller.trace_id
        assert sent.span_id != caller.span_id
        assert body["request_id"] == "req-42"
        assert body["query"] == "a=1"

    run(main())


def test_no_instance_and_fallback() -> None:
    async def main() -> None:
        w = world(())
        with pytest.raises(NoInstance):
            await w.client.request("GET", "/work")

        async def fallback(exc: Exception) -> Response:
            return Response(200, [], f"fallback after {type(exc).__name__}".encode())

        answer = await w.client.request("GET", "/work", fallback=fallback)
        assert answer.body == b"fallback after NoInstance"
        counter = w.metrics.counter("resilience.fallback", dependency="media", cause="failure")
        assert counter.value == 1

    run(main())


def test_attempts_are_timed_by_status() -> None:
    async def main() -> None:
        w = world(("media-1",))
        await w.client.request("GET", "/work")
        w.transport.unmount("media-1.local")
        with pytest.raises(UpstreamConnectError):
            await w.client.request("GET", "/work")
        timer = w.metrics.timer
        assert timer("ipc.client.call", service="gateway", dependency="media", status="200").count
        failed = timer(
            "ipc.client.call", service="gateway", dependency="media", status="UpstreamConnectError"
        )
        assert failed.count == 1

    run(main())


def test_clients_make_one_client_per_service() -> None:
    clock = FakeClock()
    metrics = Registry(clock)
    made: list[str] = []

    def balancers(app: str) -> Balancer:
        made.append(app)
        return LoadBalancer(Fixed(), app, clock=clock)

    clients = Clients(
        balancers,
        Dependencies(clock, metrics),
        AsgiTransport(),
        metrics=metrics,
        caller="x",
        config=ClientConfig(attempt_timeout=0.3),
    )
    assert clients.get("Media") is clients.get("media")
    assert clients.get("media").attempt_timeout == 0.3
    assert made == ["media"]
