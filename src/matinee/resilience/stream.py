"""Live breaker state over HTTP, in the spirit of ``hystrix.stream``.

* ``GET /resilience/breakers`` - one JSON snapshot of every dependency;
* ``GET /resilience/stream`` - Server-Sent Events: one ``data: {...}`` snapshot right away and
  then one per ``interval``, until the client goes away.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from matinee.clock import Clock
from matinee.resilience.dependency import Dependencies


def snapshot(deps: Dependencies, clock: Clock) -> dict[str, Any]:
    return {"ts": clock.time(), "dependencies": deps.snapshot()}


def router(
    deps: Dependencies,
    clock: Clock,
    interval: float = 1.0,
    *,
    max_events: int | None = None,
) -> APIRouter:
    """``max_events`` ends each stream after that many events (for tests and one-shot tools);
    otherwise a stream runs until the client disconnects."""
    if interval <= 0:
        raise ValueError("the stream interval must be positive")
    api = APIRouter(tags=["resilience"])

    @api.get("/resilience/breakers")
    async def breakers() -> dict[str, Any]:
        """Every dependency's breaker state, rolling counts, bulkhead and retry budget."""
        return snapshot(deps, clock)

    async def events() -> AsyncIterator[bytes]:
        sent = 0
        while True:
            yield b"data: " + json.dumps(snapshot(deps, clock)).encode() + b"\n\n"
            sent += 1
            if max_events is not None and sent >= max_events:
                return
            await clock.sleep(interval)

    @api.get("/resilience/stream")
    async def stream() -> StreamingResponse:
        """Server-Sent Events with a breakers snapshot every interval (like hystrix.stream)."""
        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    return api
