"""Real sockets: the aiohttp transport's pool and failures, and granian's graceful stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web
from fastapi import FastAPI

from matinee.resilience.errors import UpstreamConnectError, UpstreamReadTimeout
from matinee.runtime.server import Server, ServerConfig
from matinee.runtime.transport import AiohttpTransport, UpstreamDisconnected

from ..conftest import free_port


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


@asynccontextmanager
async def aiohttp_server() -> AsyncIterator[str]:
    async def conn(request: web.Request) -> web.Response:
        return web.json_response(
            {"conn": id(request.transport), "body": (await request.read()).decode()},
            headers={"x-a": "1"},
        )

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({})

    app = web.Application()
    app.router.add_route("*", "/conn", conn)
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def test_keeps_connections_alive_and_passes_bodies() -> None:
    async def main() -> None:
        transport = AiohttpTransport()
        async with aiohttp_server() as base:
            answers = [
                await transport.request("POST", f"{base}/conn", [("x", "y")], b"hi", 2.0)
                for _ in range(3)
            ]
        await transport.aclose()
        assert {a.json()["conn"] for a in answers} == {answers[0].json()["conn"]}
        assert answers[0].json()["body"] == "hi"
        assert answers[0].header("X-A") == "1"
        assert answers[0].instance.startswith("127.0.0.1:")

    run(main())


def test_refused_is_a_connect_error_and_slow_is_a_read_timeout() -> None:
    async def main() -> None:
        transport = AiohttpTransport()
        try:
            with pytest.raises(UpstreamConnectError, match="could not connect"):
                await transport.request("GET", f"http://127.0.0.1:{free_port()}/", timeout=1.0)
            async with aiohttp_server() as base:
                with pytest.raises(UpstreamReadTimeout, match=r"within 0\.2 s"):
                    await transport.request("GET", f"{base}/slow", timeout=0.2)
        finally:
            await transport.aclose()

    run(main())


def test_a_dropped_connection_is_a_disconnect() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        transport = AiohttpTransport()
        try:
            with pytest.raises(UpstreamDisconnected, match="closed the connection"):
                await transport.request("POST", f"http://127.0.0.1:{port}/", (), b"x", 2.0)
        finally:
            await transport.aclose()
            server.close()
            await server.wait_closed()

    run(main())


def slow_app() -> FastAPI:
    app = FastAPI()

    @app.get("/slow")
    async def slow() -> dict[str, bool]:
        await asyncio.sleep(0.5)
        return {"done": True}

    @app.get("/fast")
    async def fast() -> dict[str, bool]:
        return {"fast": True}

    return app


def test_granian_stops_accepting_and_drains_requests_in_flight() -> None:
    async def main() -> None:
        port = free_port()
        server = Server(slow_app(), ServerConfig(port=port))
        transport = AiohttpTransport()
        base = f"http://127.0.0.1:{port}"
        try:
            await server.start()
            assert server.running
            assert (await transport.request("GET", f"{base}/fast", timeout=2.0)).status == 200
            slow = asyncio.create_task(transport.request("GET", f"{base}/slow", timeout=5.0))
            await asyncio.sleep(0.1)
            await server.stop()
            assert slow.done()
            answer = await slow
            assert (answer.status, answer.json()) == (200, {"done": True})
            fresh = AiohttpTransport()
            with pytest.raises(UpstreamConnectError):
                await fresh.request("GET", f"{base}/fast", timeout=1.0)
            await fresh.aclose()
        finally:
            await server.stop()
            await transport.aclose()

    run(main())
