"""The concurrency-limit middleware: 503 + Retry-After beyond the limit, exempt paths, and
tokens handed back however the request ends."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from matinee.clock import FakeClock
from matinee.resilience.limits import FixedLimit, Limiter
from matinee.resilience.middleware import (
    ConcurrencyLimitMiddleware,
    Message,
    Receive,
    Scope,
    Send,
)
from matinee.telemetry.metrics import Registry


class Recorder:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self.rtts: list[float] = []

    @property
    def limit(self) -> int:
        return self._limit

    def on_sample(self, start: float, rtt: float, inflight: int, did_drop: bool) -> None:
        self.rtts.append(rtt)


class App:
    """Answers 200; ``/slow`` waits for ``release``, ``/boom`` raises."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.release = asyncio.Event()
        self.entered = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path == "/boom":
            raise RuntimeError("boom")
        if path == "/slow":
            self.entered.set()
            await self.release.wait()
            self.clock.advance(0.3)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def setup(limit: int = 1) -> tuple[App, Limiter, Recorder, Registry, httpx.AsyncClient]:
    clock = FakeClock()
    metrics = Registry(clock)
    recorder = Recorder(limit)
    limiter = Limiter(recorder, clock, name="api")
    app = App(clock)
    wrapped = ConcurrencyLimitMiddleware(app, limiter, metrics)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=wrapped, raise_app_exceptions=False),
        base_url="http://test",
    )
    return app, limiter, recorder, metrics, client


def test_refuses_with_503_and_retry_after_beyond_the_limit() -> None:
    async def main() -> None:
        app, limiter, recorder, metrics, client = setup(limit=1)
        async with client:
            slow = asyncio.create_task(client.get("/slow"))
            await app.entered.wait()
            assert limiter.inflight == 1
            refused = await client.get("/fast")
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "1"
            assert refused.json()["error"] == "overloaded"
            assert "try again" in refused.json()["message"]
            for path in ("/healthz", "/readyz", "/metrics"):
                assert (await client.get(path)).status_code == 200  # never limited
            app.release.set()
            assert (await slow).status_code == 200
            assert limiter.inflight == 0
            assert recorder.rtts == [pytest.approx(0.3)]
            assert (await client.get("/fast")).status_code == 200
        assert metrics.counter("resilience.limit.rejected", limiter="api").value == 1

    asyncio.run(main())


def test_an_error_hands_the_token_back_without_a_sample() -> None:
    async def main() -> None:
        _, limiter, recorder, _, client = setup(limit=1)
        async with client:
            assert (await client.get("/boom")).status_code == 500
            assert limiter.inflight == 0
            assert recorder.rtts == []
            assert (await client.get("/fast")).status_code == 200

    asyncio.run(main())


def test_other_scopes_pass_through() -> None:
    async def main() -> None:
        seen: list[str] = []

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            seen.append(scope["type"])

        limiter = Limiter(FixedLimit(0), FakeClock())
        wrapped = ConcurrencyLimitMiddleware(app, limiter, Registry())

        async def receive() -> Message:
            return {"type": "lifespan.startup"}

        async def send(message: Message) -> None:
            pytest.fail("nothing should be sent")

        await wrapped({"type": "lifespan"}, receive, send)
        assert seen == ["lifespan"]

    asyncio.run(main())
