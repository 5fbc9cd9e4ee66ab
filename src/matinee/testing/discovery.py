"""Test helpers for discovery: request callables over ASGI or sockets, and a threaded server.

They stand in for ``runtime.transport`` in the discovery tests, so those tests do not depend on
it: :class:`HttpxRequest` sends over real sockets or, with an ASGI app, entirely in-process.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

START_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class SimpleResponse:
    status: int
    body: bytes


class HttpxRequest:
    """``await request(method, url, headers, body, timeout)`` on httpx, over sockets or ASGI."""

    def __init__(self, app: ASGIApp | None = None) -> None:
        transport = httpx.ASGITransport(app=app) if app is not None else None
        self._client = httpx.AsyncClient(transport=transport)
        self.calls: list[tuple[str, str]] = []

    async def __call__(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        timeout: float,  # noqa: ASYNC109 - the transport shape
    ) -> SimpleResponse:
        self.calls.append((method, url))
        response = await self._client.request(
            method, url, headers=headers, content=body, timeout=timeout
        )
        return SimpleResponse(response.status_code, response.content)

    async def aclose(self) -> None:
        await self._client.aclose()


def by_host(apps: dict[str, ASGIApp]) -> ASGIApp:
    """One ASGI app that hands each request to ``apps[host]`` (``http://peer-a`` -> ``peer-a``)."""

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        host = dict(scope["headers"]).get(b"host", b"").decode()
        await apps[host](scope, receive, send)

    return route


class ThreadedServer:
    """An ASGI app served by uvicorn on ``host:port`` in a background thread. ``options``
    override the uvicorn settings below (the defaults are the plain-Python ones)."""

    def __init__(
        self,
        app: ASGIApp,
        port: int,
        *,
        host: str = "127.0.0.1",
        start_seconds: float = START_SECONDS,
        **options: Any,
    ) -> None:
        self.port = port
        self.url = f"http://{host}:{port}"
        self.start_seconds = start_seconds
        settings: dict[str, Any] = {
            "log_level": "warning",
            "loop": "asyncio",
            "http": "h11",
            "ws": "none",
            "lifespan": "on",
            **options,
        }
        self._server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, **settings))
        self._thread = threading.Thread(
            target=self._server.run, name=f"uvicorn-{port}", daemon=True
        )

    def start(self) -> ThreadedServer:
        self._thread.start()
        deadline = time.monotonic() + self.start_seconds
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._server.should_exit = True
                raise RuntimeError(
                    f"the server on port {self.port} did not start within "
                    f"{self.start_seconds:g} s (see the log above)"
                )
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
