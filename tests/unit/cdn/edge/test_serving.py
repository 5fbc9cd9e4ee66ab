"""An edge serves what the origin holds: a miss fills, a hit comes from disk with ``pathsend``,
with the origin's validators, ranges, conditional answers, content types, cache headers and
CORS; manifests come cut to the token's height."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from matinee.delivery.http import IMMUTABLE, MANIFEST_CACHE

from .harness import (
    BIG,
    MASTER,
    PREFIX,
    SEG_720,
    SEG_1080,
    call,
    make_edge,
    make_platform,
    media_bytes,
    origin,
    running,
    sent_bytes,
    signed,
    token,
)


def test_a_miss_fills_from_the_origin_then_hits_are_sent_from_disk(tmp_path: Path) -> None:
    async def main() -> None:
        async with origin(make_platform(tmp_path)) as up:
            edge = make_edge(tmp_path / "edge", origins=[up.url])
            async with running(edge) as app:
                first = await call(app, "GET", signed(SEG_720), pathsend=True)
                assert first.status == 200
                assert first.headers["x-cache"] == "MISS"
                second = await call(app, "GET", signed(SEG_720), pathsend=True)
                assert second.headers["x-cache"] == "HIT"
                # Hits leave the bytes to the server: pathsend of the file under the root.
                for reply in (first, second):
                    assert reply.pathsend is not None
                    assert sent_bytes(reply) == media_bytes(SEG_720)
                    assert Path(reply.pathsend).is_relative_to(tmp_path / "edge" / "objects")
                # Without pathsend (another server) the same bytes come as a body.
                plain = await call(app, "GET", signed(SEG_720))
                assert plain.body == media_bytes(SEG_720)
                assert up.counted.gets(SEG_720) == 1
                # The origin's own validators, so a client moving between them revalidates.
                direct = await _origin_head(up.url, SEG_720)
                assert second.headers["etag"] == direct["etag"]
                assert second.headers["last-modified"] == direct["last-modified"]
                assert second.headers["content-length"] == str(len(media_bytes(SEG_720)))
                assert edge.stats.hits == 2
                assert edge.stats.misses == 1

    asyncio.run(main())


async def _origin_head(url: str, key: str) -> dict[str, str]:
    async with aiohttp.ClientSession() as session, session.head(f"{url}/{key}") as resp:
        assert resp.status == 200
        return {k.lower(): v for k, v in resp.headers.items()}


def test_content_types_and_cache_headers(tmp_path: Path) -> None:
    async def main() -> None:
        async with origin(make_platform(tmp_path)) as up:
            edge = make_edge(tmp_path / "edge", origins=[up.url])
            async with running(edge) as app:
                expected = {
                    f"{PREFIX}master.m3u8": ("application/vnd.apple.mpegurl", MANIFEST_CACHE),
                    f"{PREFIX}manifest.mpd": ("application/dash+xml", MANIFEST_CACHE),
                    SEG_720: ("video/iso.segment", IMMUTABLE),
                    f"{PREFIX}video/720p-3000k/init.mp4": ("video/mp4", IMMUTABLE),
                    f"{PREFIX}text/eng-0/00001.vtt": ("text/vtt", IMMUTABLE),
                    f"{PREFIX}poster.jpg": ("image/jpeg", IMMUTABLE),
                }
                for path, (kind, cache) in expected.items():
                    for _ in range(2):  # the miss and the hit say the same
                        reply = await call(app, "GET", signed(path))
                        assert reply.status == 200, path
                        assert reply.body == media_bytes(path)
                        assert reply.headers["content-type"] == kind
                        assert reply.headers["cache-control"] == cache
                        assert reply.headers["access-control-allow-origin"] == "*"
                        assert "Content-Range" in reply.headers["access-control-expose-headers"]
                        assert reply.headers["accept-ranges"] == "bytes"

    asyncio.run(main())


def test_ranges_conditionals_head_and_preflight(tmp_path: Path) -> None:
    async def main() -> None:
        async with origin(make_platform(tmp_path)) as up:
            edge = make_edge(tmp_path / "edge", origins=[up.url])
            async with running(edge) as app:
                body = media_bytes(BIG)
                url = signed(BIG)
                whole = await call(app, "GET", url, pathsend=True)
                etag, modified = whole.headers["etag"], whole.headers["last-modified"]
                part = await call(app, "GET", url, [("Range", "bytes=1000-1999")], pathsend=True)
                assert (part.status, part.body) == (206, body[1000:2000])
                assert part.pathsend is None  # a range is a body
                assert part.headers["content-range"] == f"bytes 1000-1999/{len(body)}"
                assert part.headers["content-length"] == "1000"
                tail = await call(app, "GET", url, [("Range", "bytes=-100")])
                assert (tail.status, tail.body) == (206, body[-100:])
                big = await call(app, "GET", url, [("Range", "bytes=10-")])
                assert (big.status, big.body) == (206, body[10:])
                past = await call(app, "GET", url, [("Range", f"bytes={len(body)}-")])
                assert past.status == 416
                assert past.headers["content-range"] == f"bytes */{len(body)}"
                assert past.body == b""
                several = await call(app, "GET", url, [("Range", "bytes=0-1,5-6")])
                assert (several.status, len(several.body)) == (200, len(body))
                same = await call(app, "GET", url, [("If-None-Match", etag)])
                assert (same.status, same.body, same.headers["etag"]) == (304, b"", etag)
                since = await call(app, "GET", url, [("If-Modified-Since", modified)])
                assert since.status == 304
                other = await call(app, "GET", url, [("If-None-Match", '"nope"')])
                assert other.status == 200
                assert (await call(app, "GET", url, [("If-Match", '"nope"')])).status == 412
                fresh = [("Range", "bytes=0-9"), ("If-Range", etag)]
                assert (await call(app, "GET", url, fresh)).status == 206
                stale = [("Range", "bytes=0-9"), ("If-Range", '"old"')]
                changed = await call(app, "GET", url, stale)
                assert (changed.status, len(changed.body)) == (200, len(body))
                head = await call(app, "HEAD", url)
                assert (head.status, head.body) == (200, b"")
                assert head.headers["content-length"] == str(len(body))
                pre = await call(
                    app,
                    "OPTIONS",
                    url,
                    [
                        ("Origin", "https://player.example"),
                        ("Access-Control-Request-Method", "GET"),
                        ("Access-Control-Request-Headers", "range"),
                    ],
                )
                assert pre.status == 204
                assert pre.headers["access-control-allow-origin"] == "*"
                assert pre.headers["access-control-allow-headers"] == "range"
                assert "GET" in pre.headers["access-control-allow-methods"]
                assert up.counted.gets(BIG) == 1

    asyncio.run(main())


def test_manifests_are_cut_to_the_tokens_height_and_taller_segments_refused(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        async with origin(make_platform(tmp_path)) as up:
            edge = make_edge(tmp_path / "edge", origins=[up.url])
            async with running(edge) as app:
                capped = token(height=720)
                hls = await call(app, "GET", signed(f"{PREFIX}master.m3u8", capped))
                assert hls.status == 200
                assert b"RESOLUTION=1280x720" in hls.body
                assert b"1080p" not in hls.body
                assert hls.headers["cache-control"].startswith("private")
                dash = await call(app, "GET", signed(f"{PREFIX}manifest.mpd", capped))
                assert b'height="720"' in dash.body
                assert b'height="1080"' not in dash.body
                tall = await call(app, "GET", signed(SEG_1080, capped))
                assert (tall.status, tall.json()["error"]) == (403, "rendition_not_allowed")
                ok = await call(app, "GET", signed(SEG_720, capped))
                assert ok.status == 200
                whole = await call(app, "GET", signed(f"{PREFIX}master.m3u8"))
                assert whole.body == MASTER
                # The edge learnt the renditions from the master it filled for the check.
                premium = await call(app, "GET", signed(SEG_1080, token(height=2160)))
                assert premium.status == 200
                assert up.counted.gets(f"{PREFIX}master.m3u8") == 1

    asyncio.run(main())


def test_missing_objects_and_a_dead_origin(tmp_path: Path) -> None:
    async def main() -> None:
        async with origin(make_platform(tmp_path)) as up:
            edge = make_edge(tmp_path / "edge", origins=[up.url])
            async with running(edge) as app:
                missing = await call(app, "GET", signed(f"{PREFIX}video/720p-3000k/00099.m4s"))
                assert (missing.status, missing.json()["error"]) == (404, "object_not_found")
                held = await call(app, "GET", signed(SEG_720))
                assert held.status == 200
                await up.server.stop()
                # The origin is gone: what the edge holds is still served, the rest is 502.
                again = await call(app, "GET", signed(SEG_720))
                assert again.status == 200
                gone = await call(app, "GET", signed(SEG_1080))
                assert (gone.status, gone.json()["error"]) == (502, "upstream_unavailable")
                assert list((tmp_path / "edge" / "tmp").iterdir()) == []

    asyncio.run(main())


def test_an_empty_object_is_served_and_not_kept(tmp_path: Path) -> None:
    async def main() -> None:
        async with origin(make_platform(tmp_path)) as up:
            edge = make_edge(tmp_path / "edge", origins=[up.url])
            async with running(edge) as app:
                for _ in range(2):
                    empty = await call(app, "GET", signed(f"{PREFIX}text/eng-0/00002.vtt"))
                    assert (empty.status, empty.body) == (200, b"")
                    assert empty.headers["content-length"] == "0"
                assert len(edge.store) == 0

    asyncio.run(main())


def test_the_optional_memory_tier_serves_objects_asked_for_twice(tmp_path: Path) -> None:
    async def main() -> None:
        async with origin(make_platform(tmp_path)) as up:
            edge = make_edge(tmp_path / "edge", origins=[up.url], memory_bytes=200_000)
            async with running(edge) as app:
                replies = [await call(app, "GET", signed(SEG_720), pathsend=True) for _ in range(3)]
                # The first request marks it; from the second on, its bytes come from RAM.
                assert [r.pathsend is not None for r in replies] == [True, False, False]
                assert replies[1].body == replies[2].body == media_bytes(SEG_720)
                assert replies[2].headers == replies[1].headers
                # Too big for the tier (over 256 KB): always from the file.
                big = [await call(app, "GET", signed(BIG), pathsend=True) for _ in range(3)]
                assert all(r.pathsend is not None for r in big)
                # Ranges and HEAD are unchanged.
                part = await call(app, "GET", signed(SEG_720), [("Range", "bytes=0-9")])
                assert part.body == media_bytes(SEG_720)[:10]
                report = (await call(app, "GET", "/edge/report")).json()
                assert report["memory"] == {
                    "capacity_bytes": 200_000,
                    "used_bytes": len(media_bytes(SEG_720)),
                    "objects": 1,
                }

    asyncio.run(main())
