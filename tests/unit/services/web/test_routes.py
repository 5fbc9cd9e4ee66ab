"""The gateway's default routes for the web app, media and steering; a route's timeout may be
longer than its service's dependency timeout (the uploads' 8 MiB chunks need it)."""

from __future__ import annotations

import asyncio

import pytest

from matinee.clock import SystemClock
from matinee.discovery.models import InstanceInfo
from matinee.gateway.routes import UPLOAD_MAX_BODY, RouteTable, default_routes
from matinee.resilience.dependency import Dependency, DependencyConfig
from matinee.resilience.errors import ResilienceError
from matinee.runtime.client import ServiceClient
from matinee.runtime.transport import AsgiTransport, Receive, Scope, Send
from matinee.services.web.instances import PinnedBalancer
from matinee.telemetry.metrics import Registry


def test_pages_go_to_web_and_media_keeps_its_paths() -> None:
    table = RouteTable(default_routes())
    expected = {
        "/": "web",
        "/title/tt-1": "web",
        "/admin/jobs/j-1": "web",
        "/app/viewer.js": "web",
        "/api/admin/services": "web",
        "/media/assets/a1/master.m3u8": "media",
        "/t/token/media/assets/a1/manifest.mpd": "media",
        "/players/shaka-player/dist/x.js": "media",
        "/api/assets/a1": "media",
        "/api/media/jobs": "media",
        "/api/media/uploads/u-1": "media",
        "/api/steering/edges": "steering",
        "/api/catalog/titles": "catalog",
        "/api/playback/start": "playback",
    }
    for path, service in expected.items():
        route = table.match(path)
        assert route is not None, path
        assert route.service == service, path
    uploads = table.match("/api/media/uploads")
    assert uploads is not None
    assert uploads.max_body == UPLOAD_MAX_BODY == 16 * 1024 * 1024
    assert uploads.timeout is not None
    assert uploads.timeout >= 60
    assert table.match("/api/media/jobs") is not table.match("/api/media/uploads/x")


async def slow(scope: Scope, receive: Receive, send: Send) -> None:
    del scope, receive
    await asyncio.sleep(0.2)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"stored"})


def test_a_call_may_be_given_longer_than_its_dependency_allows() -> None:
    async def main() -> None:
        clock = SystemClock()
        metrics = Registry(clock)
        dependency = Dependency(
            "media", DependencyConfig(timeout_s=0.05, retries=0), clock=clock, metrics=metrics
        )
        instance = InstanceInfo.for_service("media", "media-1", "media-1.local", 80)
        client = ServiceClient(
            "media",
            PinnedBalancer(instance),
            dependency,
            AsgiTransport({"media-1.local": slow}),
            metrics=metrics,
        )
        with pytest.raises(ResilienceError, match="did not answer"):
            await client.request("PATCH", "/api/media/uploads/u-1", body=b"x" * 1024)
        answer = await client.request(
            "PATCH", "/api/media/uploads/u-1", body=b"x" * 1024, call_timeout=2.0
        )
        assert (answer.status, answer.body) == (200, b"stored")

    asyncio.run(main())
