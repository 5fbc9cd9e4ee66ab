"""The memcached client's protocol handling against a scripted server on loopback.

The server answers each request line with a canned reply, one byte at a time, so every parser
state is crossed at every byte boundary. The real server is exercised by the integration tests.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from matinee.cache import CacheUnavailable, MemcachedServer, ValueTooLarge
from matinee.clock import FakeClock


@asynccontextmanager
async def scripted(replies: list[bytes], *, answer: bool = True) -> AsyncIterator[int]:
    """A server that reads request lines and sends ``replies`` in order, byte by byte."""
    pending = list(replies)

    tasks: set[asyncio.Task[None]] = set()
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        writers.append(writer)
        try:
            while pending and (line := await reader.readline()):
                if line.startswith((b"set", b"add")):
                    size = int(line.split()[4])
                    await reader.readexactly(size + 2)
                if not answer:
                    continue
                for byte in pending.pop(0):
                    writer.write(bytes([byte]))
                    await writer.drain()
            await reader.read()
        except ConnectionError:
            pass  # the client went away, as clients do
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.close()
        for writer in writers:
            writer.close()  # ends each handler's read (cancelling it upsets asyncio's streams)
        await asyncio.gather(*tasks, return_exceptions=True)


def test_replies_split_at_every_byte_are_parsed() -> None:
    async def main() -> None:
        binary = b"\r\nEND\r\nVALUE x 0 3\r\n"  # data that looks like protocol
        replies = [
            b"VALUE t:a 5 %d\r\n%b\r\nVALUE t:b 0 0\r\n\r\nEND\r\n" % (len(binary), binary),
            b"END\r\n",
            b"STORED\r\n",
            b"NOT_STORED\r\n",
            b"DELETED\r\n",
            b"NOT_FOUND\r\n",
            b"VALUE t:a 0 1 99\r\nz\r\nEND\r\n",  # gat, with a cas field
        ]
        async with scripted(replies) as port:
            server = MemcachedServer("127.0.0.1", port, clock=FakeClock())
            assert await server.get_many([b"t:a", b"t:b"]) == {
                b"t:a": (binary, 5),
                b"t:b": (b"", 0),
            }
            assert await server.get(b"t:none") is None
            await server.set(b"t:a", b"v", 0, 10)
            assert await server.add(b"t:a", b"v", 0, None) is False
            assert await server.delete(b"t:a") is True
            assert await server.delete(b"t:a") is False
            assert await server.touch(b"t:a", 10) == (b"z", 0)
            await server.close()

    asyncio.run(main())


def test_pipelined_requests_are_paired_with_their_replies() -> None:
    async def main() -> None:
        values = [b"v%d" % i for i in range(50)]
        replies = [
            b"VALUE k%d 0 %d\r\n%b\r\nEND\r\n" % (i, len(v), v) for i, v in enumerate(values)
        ]
        async with scripted(replies) as port:
            server = MemcachedServer("127.0.0.1", port, clock=FakeClock())
            got = await asyncio.gather(*(server.get(b"k%d" % i) for i in range(50)))
            assert got == [(value, 0) for value in values]
            await server.close()

    asyncio.run(main())


def test_a_server_error_fails_one_request_a_client_error_the_connection() -> None:
    async def main() -> None:
        replies = [
            b"SERVER_ERROR object too large for cache\r\n",
            b"SERVER_ERROR out of memory storing object\r\n",
            b"STORED\r\n",
            b"CLIENT_ERROR bad data chunk\r\n",
        ]
        async with scripted(replies) as port:
            server = MemcachedServer("127.0.0.1", port, clock=FakeClock())
            with pytest.raises(ValueTooLarge):
                await server.set(b"k", b"v", 0, None)
            with pytest.raises(CacheUnavailable, match="out of memory"):
                await server.set(b"k", b"v", 0, None)
            await server.set(b"k", b"v", 0, None)  # the stream is still in step
            with pytest.raises(CacheUnavailable, match="CLIENT_ERROR"):
                await server.set(b"k", b"v", 0, None)
            await server.close()

    asyncio.run(main())


def test_no_answer_within_the_timeout_fails_everything_pending() -> None:
    async def main() -> None:
        async with scripted([b""] * 5, answer=False) as port:
            server = MemcachedServer("127.0.0.1", port, clock=FakeClock(), timeout=0.05)
            results = await asyncio.gather(
                *(server.get(b"k") for _ in range(3)), return_exceptions=True
            )
            assert all(isinstance(r, CacheUnavailable) for r in results)
            assert "did not answer within 0.05 s" in str(results[0])
            await server.close()

    asyncio.run(main())


def test_a_refused_server_is_marked_down_then_retried() -> None:
    async def main() -> None:
        with socket.socket() as sock:  # a port nothing listens on
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        clock = FakeClock()
        server = MemcachedServer("127.0.0.1", port, clock=clock, retry_interval=1.0)
        with pytest.raises(CacheUnavailable, match="cannot connect"):
            await server.get(b"k")
        with pytest.raises(CacheUnavailable, match="marked down"):
            await server.get(b"k")
        clock.advance(1.0)
        with pytest.raises(CacheUnavailable, match="cannot connect"):
            await server.get(b"k")
        await server.close()

    asyncio.run(main())


def test_ttls_become_whole_seconds_and_long_ones_absolute_times() -> None:
    clock = FakeClock(start=1_700_000_000.0)
    server = MemcachedServer("127.0.0.1", 1, clock=clock)
    assert server._exptime(None) == 0
    assert server._exptime(0.2) == 1
    assert server._exptime(1.5) == 2
    assert server._exptime(30 * 24 * 3600) == 30 * 24 * 3600
    assert server._exptime(31 * 24 * 3600) == 1_700_000_000 + 31 * 24 * 3600
