"""Periodic background work for a service instance: a lifespan that runs a step every N s.

Services register it with ``ctx.add_lifespan(every(...))``: the loop starts before the instance
registers with discovery and is cancelled after it drained. A step that fails is logged and
tried again at the next interval (a dead database must not end the loop); time comes from the
injected clock, so tests drive it with ``FakeClock``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from matinee.clock import Clock
from matinee.errors import MatineeError

log = logging.getLogger(__name__)


def every(
    clock: Clock,
    interval: float,
    step: Callable[[], Awaitable[object]],
    *,
    name: str,
) -> Callable[[], AbstractAsyncContextManager[None]]:
    """A lifespan factory running ``step`` every ``interval`` seconds of ``clock`` (after the
    first interval), as an asyncio task called ``name``."""

    async def loop() -> None:
        while True:
            await clock.sleep(interval)
            try:
                outcome = await step()
            except MatineeError as exc:  # an outage the step already put in plain words
                log.warning("%s failed: %s; trying again in %g s", name, exc, interval)
            except Exception:
                log.exception("%s failed unexpectedly; trying again in %g s", name, interval)
            else:
                log.debug("%s: %s", name, outcome)

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        task = asyncio.create_task(loop(), name=name)
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return lifespan
