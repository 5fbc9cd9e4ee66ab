"""The life of one service instance: start, deregister, drain, stop.

:class:`ServiceRuntime` is driven the same way by every host: the per-instance server (fleet),
the monolith, or an ASGI server's lifespan when an app is served on its own. Graceful shutdown
runs in this order, so callers never see a refused connection from an instance they could
still choose:

1. :meth:`ServiceRuntime.deregister` - not ready any more, lease cancelled in discovery;
2. (the server waits ``deregister_grace`` so callers' caches forget the instance, then stops
   accepting connections and lets requests in flight finish);
3. :meth:`ServiceRuntime.stop` - waits for what is still in flight (``drain_timeout``), ends
   the service's lifespans in reverse order, then closes what the builder handed over.

Every step is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from matinee.errors import MatineeError
from matinee.runtime.context import ServiceContext
from matinee.runtime.transport import ASGIApp, Message

log = logging.getLogger(__name__)


class StartupFailed(MatineeError):
    """An app refused to start (its ASGI lifespan startup failed)."""


class ServiceRuntime:
    """Start and stop one instance; counts requests in flight for the drain."""

    def __init__(self, name: str, ctx: ServiceContext, *, register: bool = True) -> None:
        self.name = name
        self.ctx = ctx
        self.register = register
        self._up = False
        self.inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._stack = AsyncExitStack()
        self._started = False
        self._stopped = False
        self._registered = False
        # What the builder hands over to close last (a transport of its own, ...).
        self.closing = AsyncExitStack()

    def request_started(self) -> None:
        self.inflight += 1
        self._idle.clear()

    def request_finished(self) -> None:
        self.inflight -= 1
        if self.inflight <= 0:
            self._idle.set()

    @property
    def ready(self) -> bool:
        """Started, not shutting down, and (if it registers) registered with discovery: an
        instance whose first registration failed is not ready until a retry succeeds."""
        return self._up and (not self.register or self.ctx.discovery.registered)

    async def start(self) -> None:
        """Enter the service's lifespans, then register with discovery; ready after that."""
        if self._started:
            return
        self._started = True
        for lifespan in self.ctx.lifespans:
            await self._stack.enter_async_context(lifespan())
        if self.register:
            await self.ctx.discovery.start()
            self._registered = True
        self._up = True
        log.info("%s %s is up", self.name, self.ctx.instance_id)

    async def deregister(self) -> None:
        """Not ready any more, and gone from discovery: callers stop choosing this instance."""
        self._up = False
        if self._registered:
            self._registered = False
            await self.ctx.discovery.stop()

    async def drain(self, within: float | None = None) -> bool:
        """Wait until no request is in flight; False when ``within`` seconds ran out first."""
        limit = self.ctx.config.drain_timeout if within is None else within
        try:
            async with asyncio.timeout(limit):
                await self._idle.wait()
        except TimeoutError:
            log.warning(
                "%s still had %d requests in flight after %g s",
                self.ctx.instance_id,
                self.inflight,
                limit,
            )
            return False
        return True

    async def stop(self) -> None:
        """Deregister, drain, end the lifespans, close what the builder handed over."""
        if self._stopped:
            return
        self._stopped = True
        await self.deregister()
        await self.drain()
        try:
            await self._stack.aclose()
        finally:
            await self.closing.aclose()
        log.info("%s %s stopped", self.name, self.ctx.instance_id)


@asynccontextmanager
async def asgi_lifespan(app: ASGIApp) -> AsyncIterator[None]:
    """Run ``app``'s ASGI lifespan: startup on entry, shutdown on exit.

    An app that does not speak the lifespan protocol (it raises on the scope) is simply
    started and stopped without it, as uvicorn's ``lifespan="auto"`` does.
    """
    to_app: asyncio.Queue[Message] = asyncio.Queue()
    from_app: asyncio.Queue[Message] = asyncio.Queue()

    async def receive() -> Message:
        return await to_app.get()

    async def send(message: Message) -> None:
        await from_app.put(message)

    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}

    async def run() -> None:
        await app(scope, receive, send)

    task = asyncio.create_task(run())

    async def reply() -> Message | None:
        getter = asyncio.create_task(from_app.get())
        await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
        if getter.done():
            return getter.result()
        getter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await getter
        if task.exception() is not None:  # no lifespan support, or it crashed before replying
            log.debug("app has no lifespan: %s", task.exception())
        return None

    await to_app.put({"type": "lifespan.startup"})
    answer = await reply()
    if answer is not None and answer["type"] == "lifespan.startup.failed":
        raise StartupFailed(f"the app failed to start: {answer.get('message', '')}")
    supported = answer is not None
    try:
        yield
    finally:
        if supported and not task.done():
            await to_app.put({"type": "lifespan.shutdown"})
            answer = await reply()
            if answer is not None and answer["type"] == "lifespan.shutdown.failed":
                log.error("the app failed to shut down: %s", answer.get("message", ""))
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
