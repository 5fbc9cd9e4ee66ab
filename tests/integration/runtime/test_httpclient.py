"""The fleet's HTTP client (``runtime.httpclient``) against real sockets.

The servers here are raw asyncio streams, so each test decides exactly what goes on the wire:
keep-alive, chunked and close-delimited bodies, HEAD, stale connections, slow answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from matinee.resilience.errors import UpstreamConnectError, UpstreamReadTimeout
from matinee.runtime.httpclient import HttpTransport
from matinee.runtime.transport import HttpClientConfig, UpstreamDisconnected

from ..conftest import free_port


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int  # which connection of the server it came on (0, 1, ...)
    number: int  # how many requests that connection carried before it


# Answers one request: the bytes to write back, or None to close the connection without a word.
Handler = Callable[[Request], Awaitable[bytes | None]]


@dataclass
class Server:
    base: str
    requests: list[Request] = field(default_factory=list)
    connections: int = 0


def answer(body: bytes = b"{}", *, status: str = "200 OK", extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{extra}"
    return f"{head}content-length: {len(body)}\r\n\r\n".encode() + body


@asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[Server]:
    server_port = free_port()
    state = Server(f"http://127.0.0.1:{server_port}")
    open_writers: list[asyncio.StreamWriter] = []
    handlers: list[asyncio.Task[Any]] = []

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        open_writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        handlers.append(task)
        number = state.connections
        state.connections += 1
        count = 0
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                line, *fields = head.decode("latin-1").split("\r\n")
                method, target, _ = line.split(" ")
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (f.partition(":") for f in fields if f)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = Request(method, target, headers, body, number, count)
                count += 1
                state.requests.append(request)
                reply = await handler(request)
                if reply is None:
                    return
                writer.write(reply)
                await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", server_port)
    try:
        yield state
    finally:
        server.close()
        for writer in open_writers:
            writer.close()  # handlers waiting for a next request see the end and return
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


def run(test: Callable[[HttpTransport], Coroutine[Any, Any, None]], **config: Any) -> None:
    async def main() -> None:
        transport = HttpTransport(HttpClientConfig(**config))
        try:
            await test(transport)
        finally:
            await transport.aclose()

    asyncio.run(main())


async def echo(request: Request) -> bytes:
    return answer(request.body, extra="X-A: 1\r\n")


def test_keeps_connections_alive_and_passes_headers_and_bodies() -> None:
    async def test(transport: HttpTransport) -> None:
        async with serve(echo) as server:
            for n in range(3):
                resp = await transport.request(
                    "POST", f"{server.base}/things?x=1", [("x-n", str(n))], b"hi %d" % n, 2.0
                )
                assert (resp.status, resp.body, resp.header("x-a")) == (200, b"hi %d" % n, "1")
                assert resp.instance == server.base.removeprefix("http://")
            empty = await transport.request("PUT", f"{server.base}/empty", timeout=2.0)
            gone = await transport.request("GET", f"{server.base}/", timeout=2.0)
        assert (empty.body, gone.body) == (b"", b"")
        assert server.connections == 1
        first, _, _, put, get = server.requests
        assert (first.method, first.target, first.headers["x-n"]) == ("POST", "/things?x=1", "0")
        assert first.headers["host"] == server.base.removeprefix("http://")
        assert put.headers["content-length"] == "0"  # a PUT says its body is empty
        assert "content-length" not in get.headers

    run(test)


def test_refused_is_a_connect_error_and_slow_is_a_read_timeout() -> None:
    async def slow(request: Request) -> bytes:
        if request.target == "/slow":
            await asyncio.sleep(1.0)
        return answer()

    async def test(transport: HttpTransport) -> None:
        with pytest.raises(UpstreamConnectError, match="could not connect"):
            await transport.request("GET", f"http://127.0.0.1:{free_port()}/", timeout=1.0)
        async with serve(slow) as server:
            with pytest.raises(UpstreamReadTimeout, match=r"within 0\.2 s"):
                await transport.request("GET", f"{server.base}/slow", timeout=0.2)
            # the timed-out connection may still get its late answer: never reused
            assert (await transport.request("GET", f"{server.base}/", timeout=2.0)).status == 200
            assert server.connections == 2

    run(test)


def test_a_connection_closed_before_the_answer_is_a_disconnect() -> None:
    async def hang_up(_: Request) -> None:
        return None

    async def test(transport: HttpTransport) -> None:
        async with serve(hang_up) as server:
            with pytest.raises(UpstreamDisconnected, match="closed the connection"):
                await transport.request("POST", f"{server.base}/", (), b"x", 2.0)

    run(test)


def test_a_stale_keepalive_connection_is_replayed_only_for_idempotent_methods() -> None:
    async def once_per_connection(request: Request) -> bytes | None:
        return answer(b"first") if request.number == 0 else None

    async def test(transport: HttpTransport) -> None:
        async with serve(once_per_connection) as server:
            await transport.request("GET", f"{server.base}/", timeout=2.0)
            again = await transport.request("GET", f"{server.base}/", timeout=2.0)
            assert again.body == b"first"  # the second try went out on a new connection
            with pytest.raises(UpstreamDisconnected):
                await transport.request("POST", f"{server.base}/", (), b"x", 2.0)

    run(test)


def test_chunked_close_delimited_head_and_no_content_answers() -> None:
    async def shapes(request: Request) -> bytes | None:
        if request.target == "/chunked":
            head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
            return head + b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        if request.target == "/head":
            return b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n"
        if request.target == "/none":
            return b"HTTP/1.1 204 No Content\r\n\r\n"
        return answer(b"plain")

    async def until_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nto the end")
        await writer.drain()
        writer.close()

    async def test(transport: HttpTransport) -> None:
        async with serve(shapes) as server:
            chunked = await transport.request("GET", f"{server.base}/chunked", timeout=2.0)
            head = await transport.request("HEAD", f"{server.base}/head", timeout=2.0)
            plain = await transport.request("GET", f"{server.base}/", timeout=2.0)
            none = await transport.request("DELETE", f"{server.base}/none", timeout=2.0)
            assert (chunked.body, head.body, plain.body, none.status) == (
                b"abcde",
                b"",
                b"plain",
                204,
            )
            assert head.header("content-length") == "1000"
            assert server.connections == 1  # after a HEAD the connection is still good
        eof = await asyncio.start_server(until_close, "127.0.0.1", 0)
        port = eof.sockets[0].getsockname()[1]
        try:
            resp = await transport.request("GET", f"http://127.0.0.1:{port}/", timeout=2.0)
            assert resp.body == b"to the end"
        finally:
            eof.close()
            await eof.wait_closed()

    run(test)


def test_the_pool_bounds_connections_per_host_and_queues_the_rest() -> None:
    async def slowish(_: Request) -> bytes:
        await asyncio.sleep(0.05)
        return answer()

    async def test(transport: HttpTransport) -> None:
        async with serve(slowish) as server:
            calls = [transport.request("GET", f"{server.base}/", timeout=2.0) for _ in range(6)]
            answers = await asyncio.gather(*calls)
            assert [a.status for a in answers] == [200] * 6
            assert server.connections == 2

    run(test, max_connections_per_host=2)


def test_idle_connections_are_not_reused_after_the_keepalive_timeout() -> None:
    async def test(transport: HttpTransport) -> None:
        async with serve(echo) as server:
            await transport.request("GET", f"{server.base}/", timeout=2.0)
            await transport.request("GET", f"{server.base}/", timeout=2.0)
            await asyncio.sleep(0.3)
            await transport.request("GET", f"{server.base}/", timeout=2.0)
            assert server.connections == 2

    run(test, keepalive_timeout=0.2)


def test_a_line_break_in_a_header_is_refused() -> None:
    async def test(transport: HttpTransport) -> None:
        async with serve(echo) as server:
            with pytest.raises(ValueError, match="line break"):
                await transport.request("GET", f"{server.base}/", [("x", "a\r\nevil: 1")])
            assert server.requests == []

    run(test)
