"""Misses: one upstream fetch however many ask at once, peers before the origin, and a cut or
failed transfer never leaves a file behind."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from matinee.cdn.edge import Appliance, EdgeApp
from matinee.runtime.server import Server, ServerConfig

from .harness import (
    BIG,
    SEG_720,
    SEG_1080,
    call,
    free_port,
    make_edge,
    make_platform,
    media_bytes,
    origin,
    running,
    sent_bytes,
    signed,
)


def test_concurrent_misses_for_one_object_make_one_upstream_fetch(tmp_path: Path) -> None:
    async def main() -> None:
        async with origin(make_platform(tmp_path)) as up:
            edge = make_edge(tmp_path / "edge", origins=[up.url])
            async with running(edge) as app:
                replies = await asyncio.gather(
                    *(call(app, "GET", signed(BIG), pathsend=i % 2 == 0) for i in range(40))
                )
                assert up.counted.gets(BIG) == 1
                assert {r.status for r in replies} == {200}
                assert all(sent_bytes(r) == media_bytes(BIG) for r in replies)
                assert edge.stats.misses == 40
                assert edge.stats.upstream["origin"].fetches == 1
                # A client that gives up does not cancel the fetch the others wait for.
                waiting = [
                    asyncio.create_task(call(app, "GET", signed(SEG_1080))) for _ in range(5)
                ]
                await asyncio.sleep(0)
                waiting[0].cancel()
                done = await asyncio.gather(*waiting[1:])
                with contextlib.suppress(asyncio.CancelledError):
                    await waiting[0]
                assert [r.status for r in done] == [200] * 4
                assert up.counted.gets(SEG_1080) == 1

    asyncio.run(main())


@asynccontextmanager
async def serving(edge: Appliance, port: int) -> AsyncIterator[str]:
    """``edge`` on a real socket (granian), as its peers reach it."""
    server = Server(EdgeApp(edge), ServerConfig(port=port))
    await edge.start()
    await server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.stop()
        await edge.stop()


def test_a_peer_of_the_cluster_is_asked_before_the_origin(tmp_path: Path) -> None:
    async def main() -> None:
        async with origin(make_platform(tmp_path)) as up:
            port = free_port()
            first = make_edge(tmp_path / "a", origins=[up.url], edge_id="edge-a", port=port)
            async with serving(first, port) as first_url:
                second = make_edge(
                    tmp_path / "b", origins=[up.url], peers=[first_url], edge_id="edge-b"
                )
                app = EdgeApp(second)
                await second.start()
                try:
                    await call(EdgeApp(first), "GET", signed(BIG))  # the peer holds it
                    assert up.counted.gets(BIG) == 1
                    reply = await call(app, "GET", signed(BIG))
                    assert (reply.status, reply.body) == (200, media_bytes(BIG))
                    assert up.counted.gets(BIG) == 1  # from the peer, not the origin
                    assert second.stats.upstream["peer"].fetches == 1
                    assert second.stats.upstream["origin"].fetches == 0
                    held = second.store.peek(BIG)
                    assert held is not None
                    assert held.rep.etag == first.store.peek(BIG).rep.etag  # type: ignore[union-attr]
                    # Not held by the peer: it says so (never fills for a peer), and the
                    # origin serves.
                    other = await call(app, "GET", signed(SEG_720))
                    assert other.status == 200
                    assert up.counted.gets(SEG_720) == 1
                    assert SEG_720 not in first.store
                    assert second.stats.upstream["origin"].fetches == 1
                finally:
                    await second.stop()
            # The peer is gone: the origin serves, after one failed try.
            third = make_edge(tmp_path / "c", origins=[up.url], peers=[first_url])
            await third.start()
            try:
                reply = await call(EdgeApp(third), "GET", signed(BIG))
                assert reply.status == 200
                assert up.counted.gets(BIG) == 2
            finally:
                await third.stop()

    asyncio.run(main())


@asynccontextmanager
async def cutting_server(sent: int, promised: int) -> AsyncIterator[str]:
    """An upstream that promises ``promised`` bytes, sends ``sent`` and hangs up."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = (
            "HTTP/1.1 200 OK\r\ncontent-type: video/iso.segment\r\n"
            f"content-length: {promised}\r\nlast-modified: Tue, 01 Jul 2025 10:00:00 GMT\r\n\r\n"
        )
        writer.write(head.encode() + b"x" * sent)
        await writer.drain()
        writer.close()

    port = free_port()
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


def test_a_cut_transfer_leaves_no_file_and_the_next_source_serves(tmp_path: Path) -> None:
    async def main() -> None:
        async with cutting_server(5000, 100_000) as broken:
            edge = make_edge(tmp_path / "edge", origins=[broken])
            async with running(edge) as app:
                replies = await asyncio.gather(*(call(app, "GET", signed(BIG)) for _ in range(3)))
                assert [r.status for r in replies] == [502] * 3
                assert replies[0].json()["error"] == "upstream_unavailable"
                assert BIG not in edge.store
                assert list((tmp_path / "edge" / "tmp").iterdir()) == []
                assert not (tmp_path / "edge" / "objects" / BIG).exists()
            # A peer that cuts the transfer: the origin (second source) serves it whole.
            async with origin(make_platform(tmp_path)) as up:
                edge = make_edge(tmp_path / "edge", origins=[up.url], peers=[broken])
                await edge.start()
                try:
                    reply = await call(EdgeApp(edge), "GET", signed(BIG))
                    assert (reply.status, reply.body) == (200, media_bytes(BIG))
                    assert list((tmp_path / "edge" / "tmp").iterdir()) == []
                finally:
                    await edge.stop()

    asyncio.run(main())
