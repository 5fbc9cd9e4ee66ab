"""One contract for every Transport: in-process ASGI, the httptools client and aiohttp.

The same FastAPI app answers all three: mounted in an AsgiTransport, and served by granian on
a real socket for the two network transports. A service's code must not be able to tell them
apart, so each case below runs against each transport.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response

from matinee.resilience.errors import UpstreamConnectError, UpstreamReadTimeout
from matinee.runtime.httpclient import HttpTransport
from matinee.runtime.server import Server, ServerConfig
from matinee.runtime.transport import AiohttpTransport, AsgiTransport, Transport

from ..conftest import free_port

KINDS = ["asgi", "httptools", "aiohttp"]


def _app() -> FastAPI:
    app = FastAPI()

    @app.api_route("/echo", methods=["GET", "POST", "PUT", "DELETE"])
    async def echo(request: Request) -> Response:
        body = await request.body()
        return Response(
            content=body or request.method.encode(),
            status_code=int(request.headers.get("x-want-status", "200")),
            headers={"x-seen": request.headers.get("x-probe", "-")},
            media_type="application/octet-stream",
        )

    @app.get("/slow")
    async def slow() -> dict[str, bool]:
        await asyncio.sleep(2)
        return {"late": True}

    @app.get("/big")
    async def big() -> Response:
        return Response(content=b"x" * (3 << 20), media_type="application/octet-stream")

    return app


@asynccontextmanager
async def _transport(kind: str) -> AsyncIterator[tuple[Transport, str]]:
    app = _app()
    if kind == "asgi":
        yield AsgiTransport({"svc.local": app}), "http://svc.local"
        return
    port = free_port()
    server = Server(app, ServerConfig(port=port))
    await server.start()
    transport: Transport = HttpTransport() if kind == "httptools" else AiohttpTransport()
    try:
        yield transport, f"http://127.0.0.1:{port}"
    finally:
        await transport.aclose()
        await server.stop()


def _run(kind: str, case: Callable[[Transport, str], Coroutine[Any, Any, None]]) -> None:
    async def main() -> None:
        async with _transport(kind) as (transport, base):
            await case(transport, base)

    asyncio.run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_status_headers_and_bodies_pass_through(kind: str) -> None:
    async def case(transport: Transport, base: str) -> None:
        got = await transport.request("GET", f"{base}/echo", [("x-probe", "hello")], b"", 5.0)
        assert (got.status, got.body, got.header("x-seen")) == (200, b"GET", "hello")
        posted = await transport.request("POST", f"{base}/echo", [], b"\x00payload\xff", 5.0)
        assert (posted.status, posted.body) == (200, b"\x00payload\xff")
        big = await transport.request("GET", f"{base}/big", [], b"", 5.0)
        assert len(big.body) == 3 << 20

    _run(kind, case)


@pytest.mark.parametrize("kind", KINDS)
def test_an_error_status_is_an_answer_not_an_exception(kind: str) -> None:
    async def case(transport: Transport, base: str) -> None:
        got = await transport.request("PUT", f"{base}/echo", [("x-want-status", "503")], b"", 5.0)
        assert got.status == 503
        missing = await transport.request("DELETE", f"{base}/nowhere", [], b"", 5.0)
        assert missing.status == 404

    _run(kind, case)


@pytest.mark.parametrize("kind", KINDS)
def test_no_answer_in_time_is_a_read_timeout(kind: str) -> None:
    async def case(transport: Transport, base: str) -> None:
        with pytest.raises(UpstreamReadTimeout):
            await transport.request("GET", f"{base}/slow", [], b"", 0.2)
        # and the transport still works afterwards
        again = await transport.request("GET", f"{base}/echo", [], b"", 5.0)
        assert again.status == 200

    _run(kind, case)


@pytest.mark.parametrize("kind", KINDS)
def test_nobody_there_is_a_connect_error(kind: str) -> None:
    async def case(transport: Transport, base: str) -> None:
        del base
        target = "http://nobody.local" if kind == "asgi" else f"http://127.0.0.1:{free_port()}"
        with pytest.raises(UpstreamConnectError):
            await transport.request("GET", f"{target}/echo", [], b"", 2.0)

    _run(kind, case)
