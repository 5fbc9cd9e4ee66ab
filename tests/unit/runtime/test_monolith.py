"""The monolith in-process: every service behind the gateway, calls through the client stack."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter

from matinee.db import upgrade
from matinee.errors import MatineeError
from matinee.runtime.app import ServiceSpec
from matinee.runtime.context import ServiceContext
from matinee.runtime.monolith import Monolith, start_order
from matinee.runtime.transport import AsgiTransport
from matinee.services import all_services
from matinee.settings import Settings


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


def nothing(ctx: ServiceContext) -> APIRouter:
    return APIRouter()


def spec(name: str, *deps: str) -> ServiceSpec:
    return ServiceSpec(name, build=nothing, depends_on=deps)


def test_start_order_puts_dependencies_first() -> None:
    specs = [spec("gateway"), spec("b", "c"), spec("a", "b"), spec("c"), spec("registry")]
    assert [s.name for s in start_order(specs)] == ["registry", "c", "b", "a", "gateway"]
    with pytest.raises(MatineeError, match="circle"):
        start_order([spec("x", "y"), spec("y", "x")])


def test_every_service_is_listed_and_starts_after_what_it_depends_on() -> None:
    specs = all_services()
    assert set(specs) == {
        "registry",
        "media",
        "identity",
        "billing",
        "catalog",
        "history",
        "homepage",
        "steering",
        "playback",
        "web",
        "gateway",
    }
    order = [s.name for s in start_order(specs.values())]
    assert order[0] == "registry"
    assert order[-1] == "gateway"
    for spec in specs.values():
        for dep in spec.depends_on:
            assert order.index(dep) < order.index(spec.name)


def test_requests_reach_media_through_the_gateway(tmp_path: Path) -> None:
    async def main() -> None:
        dist = tmp_path / "dist"  # the web app's build, as `npm run build` leaves it
        dist.mkdir()
        (dist / "index.html").write_text("<title>matinee</title>")
        settings = Settings(data_dir=tmp_path, web_dist=dist)
        upgrade(settings.resolved_database_url)  # as `matinee up` does before instances start
        monolith = Monolith(settings)
        front = AsgiTransport({"matinee.test": monolith})
        await monolith.start()
        try:
            page = await front.request("GET", "http://matinee.test/")  # the web service's
            assert page.status == 200
            assert b"<title>matinee</title>" in page.body
            assets = await front.request("GET", "http://matinee.test/api/assets")
            assert (assets.status, assets.json()) == (200, [])
            missing = await front.request("GET", "http://matinee.test/media/assets/none/x.m4s")
            assert missing.status == 404
            assert missing.json()["error"] == "object_not_found"
            assert "file:" not in missing.json()["message"]  # where the store lives stays inside
            assert (await front.request("GET", "http://matinee.test/healthz")).status == 200

            metrics = monolith.node.metrics
            calls = metrics.timer("resilience.call", dependency="media", outcome="success")
            assert calls.count == 2  # the 404 is an answer, not a failure
            served = metrics.timer(
                "ipc.server.call", service="media", route="/api/assets", status="200"
            )
            assert served.count == 1
            apps = await monolith.transport.request(
                "GET", "http://registry-1.local/eureka/apps", [("accept", "application/json")]
            )
            names = {a["name"] for a in apps.json()["applications"]["application"]}
            assert names == {name.upper() for name in all_services()} - {"REGISTRY"}
            await monolith.leave()
            apps = await monolith.transport.request(
                "GET", "http://registry-1.local/eureka/apps", [("accept", "application/json")]
            )
            assert apps.json()["applications"]["application"] == []
        finally:
            await monolith.stop()

    run(main())


def test_lifespan_starts_and_stops_everything(tmp_path: Path) -> None:
    async def main() -> None:
        monolith = Monolith(Settings(data_dir=tmp_path))
        sent: list[str] = []
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        await inbox.put({"type": "lifespan.startup"})
        await inbox.put({"type": "lifespan.shutdown"})

        async def receive() -> Any:
            return await inbox.get()

        async def send(message: Any) -> None:
            sent.append(message["type"])
            if message["type"] == "lifespan.startup.complete":
                assert all(i.runtime.ready for i in monolith.instances)

        await monolith({"type": "lifespan"}, receive, send)
        assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        assert not any(i.runtime.ready for i in monolith.instances)

    run(main())
