"""The breakers endpoint and the SSE stream: snapshots, event framing, and a stream that ends
when its client goes away."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from matinee.clock import FakeClock
from matinee.resilience.dependency import Dependencies
from matinee.resilience.middleware import Message
from matinee.resilience.stream import router
from matinee.telemetry.metrics import Registry


def make(**kwargs: Any) -> tuple[FastAPI, Dependencies, FakeClock]:
    clock = FakeClock(start=1_700_000_000.0)
    deps = Dependencies(clock, Registry(clock))
    deps.get("catalog")
    deps.get("history").breaker.record_failure(0.1)
    app = FastAPI()
    app.include_router(router(deps, clock, **kwargs))
    return app, deps, clock


def events(body: str) -> list[dict[str, Any]]:
    chunks = [c for c in body.split("\n\n") if c]
    assert all(c.startswith("data: ") for c in chunks)
    return [json.loads(c.removeprefix("data: ")) for c in chunks]


def test_breakers_snapshot() -> None:
    app, _, clock = make()

    async def main() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            return await c.get("/resilience/breakers")

    resp = asyncio.run(main())
    assert resp.status_code == 200
    body = resp.json()
    assert body["ts"] == clock.time()
    catalog, history = body["dependencies"]
    assert catalog["name"] == "catalog"
    assert catalog["state"] == "closed"
    assert (history["name"], history["requests"], history["errors"]) == ("history", 1, 1)
    assert history["error_pct"] == 100.0


def test_stream_sends_a_snapshot_every_interval() -> None:
    app, _, clock = make(interval=2.0, max_events=3)
    start = clock.time()

    async def main() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            return await c.get("/resilience/stream")

    resp = asyncio.run(main())
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.headers["cache-control"] == "no-cache"
    got = events(resp.text)
    assert [e["ts"] - start for e in got] == [0.0, 2.0, 4.0]
    assert [d["name"] for d in got[0]["dependencies"]] == ["catalog", "history"]


def test_stream_ends_when_the_client_disconnects() -> None:
    app, _, _ = make(interval=1.0)  # no max_events: only the client can end it

    async def main() -> list[bytes]:
        bodies: list[bytes] = []
        two_events = asyncio.Event()
        requested = False

        async def receive() -> Message:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await two_events.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                bodies.append(message["body"])
                if len(bodies) >= 2:
                    two_events.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/resilience/stream",
            "raw_path": b"/resilience/stream",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"t")],
            "client": ("127.0.0.1", 1234),
            "server": ("t", 80),
        }
        await asyncio.wait_for(app(scope, receive, send), timeout=5.0)
        return bodies

    bodies = asyncio.run(main())
    assert len(bodies) >= 2
    assert events(b"".join(bodies).decode())[0]["dependencies"][0]["name"] == "catalog"


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="interval"):
        router(Dependencies(FakeClock(), Registry()), FakeClock(), interval=0.0)
