"""The in-process ASGI transport: routing by authority, the ASGI exchange, and its failures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from matinee.resilience.errors import UpstreamConnectError, UpstreamReadTimeout
from matinee.runtime.transport import (
    AsgiTransport,
    Headers,
    Receive,
    Response,
    RoutingTransport,
    Scope,
    Send,
    UpstreamDisconnected,
    split_url,
)


def echo_app(name: str) -> FastAPI:
    app = FastAPI()

    @app.api_route("/echo/{rest:path}", methods=["GET", "POST", "PUT"])
    async def echo(rest: str, request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "app": name,
                "method": request.method,
                "path": request.url.path,
                "rest": rest,
                "query": request.url.query,
                "host": request.headers.get("host"),
                "x-test": request.headers.get("x-test"),
                "body": (await request.body()).decode(),
            },
            headers={"x-served-by": name},
        )

    @app.get("/slow")
    async def slow() -> dict[str, bool]:
        await asyncio.sleep(5)
        return {"slow": True}

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for n in range(3):
                yield f"chunk{n};".encode()
                await asyncio.sleep(0)

        return StreamingResponse(chunks(), media_type="text/plain")

    return app


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


def test_calls_the_app_named_by_the_authority() -> None:
    async def main() -> None:
        transport = AsgiTransport(
            {"media-1.local": echo_app("one"), "media-2.local:8080": echo_app("two")}
        )
        first = await transport.request("GET", "http://media-1.local/echo/a%20b?x=1&y=2")
        second = await transport.request("GET", "http://MEDIA-2.local:8080/echo/z")
        via_port = await transport.request("GET", "http://media-1.local:80/echo/p")
        assert first.status == 200
        assert first.json()["app"] == "one"
        assert first.json()["path"] == "/echo/a b"
        assert first.json()["query"] == "x=1&y=2"
        assert first.json()["host"] == "media-1.local"
        assert first.header("X-Served-By") == "one"
        assert first.instance == "media-1.local"
        assert second.json()["app"] == "two"
        assert via_port.json()["app"] == "one"

    run(main())


def test_sends_body_and_headers_but_not_transport_headers() -> None:
    async def main() -> None:
        transport = AsgiTransport({"svc.local": echo_app("svc")})
        headers: Headers = [("X-Test", "yes"), ("Host", "evil"), ("Content-Length", "999")]
        response = await transport.request("POST", "http://svc.local/echo/b", headers, b"hello")
        body = response.json()
        assert body["method"] == "POST"
        assert body["body"] == "hello"
        assert body["x-test"] == "yes"
        assert body["host"] == "svc.local"

    run(main())


def test_collects_a_streamed_response() -> None:
    async def main() -> None:
        transport = AsgiTransport({"svc.local": echo_app("svc")})
        response = await transport.request("GET", "http://svc.local/stream")
        assert response.status == 200
        assert response.text == "chunk0;chunk1;chunk2;"

    run(main())


def test_unknown_authority_is_a_connect_error() -> None:
    async def main() -> None:
        transport = AsgiTransport({"svc.local": echo_app("svc")})
        transport.unmount("svc.local")
        with pytest.raises(UpstreamConnectError, match=r"svc\.local"):
            await transport.request("GET", "http://svc.local/echo/x")

    run(main())


def test_slow_app_is_a_read_timeout() -> None:
    async def main() -> None:
        transport = AsgiTransport({"svc.local": echo_app("svc")})
        with pytest.raises(UpstreamReadTimeout, match=r"did not answer within 0\.05 s"):
            await transport.request("GET", "http://svc.local/slow", timeout=0.05)

    run(main())


async def crash_before_answering(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("boom")


async def crash_while_answering(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"part", "more_body": True})
    raise RuntimeError("boom")


async def crash_after_answering(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 201, "headers": [(b"a", b"b")]})
    await send({"type": "http.response.body", "body": b"done"})
    raise RuntimeError("boom after")


async def silent(scope: Scope, receive: Receive, send: Send) -> None:
    return None


def test_app_failures_look_like_a_socket_servers(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        transport = AsgiTransport(
            {
                "before.local": crash_before_answering,
                "during.local": crash_while_answering,
                "after.local": crash_after_answering,
                "silent.local": silent,
            }
        )
        before = await transport.request("GET", "http://before.local/")
        assert before.status == 500
        assert json.loads(before.body)["error"] == "internal"
        with pytest.raises(UpstreamDisconnected):
            await transport.request("GET", "http://during.local/")
        after = await transport.request("GET", "http://after.local/")
        assert (after.status, after.body, after.header("a")) == (201, b"done", "b")
        with pytest.raises(UpstreamDisconnected, match="no answer"):
            await transport.request("GET", "http://silent.local/")

    run(main())
    assert "in-process call GET http://before.local/ failed" in caplog.text


def test_receive_waits_for_the_response_before_reporting_a_disconnect() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        first = await receive()
        seen.append(first["type"])
        waiter = asyncio.ensure_future(receive())
        await asyncio.sleep(0.01)
        assert not waiter.done()  # the client is still there while we answer
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        seen.append((await waiter)["type"])

    async def main() -> None:
        response = await AsgiTransport({"a.local": app}).request("GET", "http://a.local/")
        assert response.status == 204

    run(main())
    assert seen == ["http.request", "http.disconnect"]


class Recorder:
    def __init__(self) -> None:
        self.urls: list[str] = []

    async def request(
        self,
        method: str,
        url: str,
        headers: Headers = (),
        body: bytes = b"",
        timeout: float = 10.0,  # noqa: ASYNC109 - the transport shape
    ) -> Response:
        self.urls.append(url)
        return Response(299, [], b"network")

    async def aclose(self) -> None:
        return None


def test_routing_transport_keeps_mounted_authorities_in_process() -> None:
    async def main() -> None:
        network = Recorder()
        routing = RoutingTransport(AsgiTransport({"svc.local": echo_app("svc")}), network)
        local = await routing.request("GET", "http://svc.local/echo/x")
        remote = await routing.request("GET", "http://10.0.0.7:8080/echo/x")
        assert local.json()["app"] == "svc"
        assert remote.status == 299
        assert network.urls == ["http://10.0.0.7:8080/echo/x"]

    run(main())


def test_response_helpers() -> None:
    response = Response(200, [("Content-Type", "application/json"), ("X", "1")], b'{"a": [1]}')
    assert response.header("content-type") == "application/json"
    assert response.header("missing") is None
    assert response.json() == {"a": [1]}
    assert split_url("http://Host:81/p?q=1") == ("http", "host:81", "/p?q=1")
    assert split_url("http://host") == ("http", "host", "/")
    with pytest.raises(ValueError, match="absolute"):
        split_url("/relative")
