"""The origin's HTTP for media (``/media/<key>`` and ``/t/<token>/...``): byte ranges, ETag and
Last-Modified with conditional requests, content types, cache headers and CORS, through the
gateway and straight at the media service."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from matinee.clock import SystemClock
from matinee.delivery.http import IMMUTABLE, MANIFEST_CACHE, etag_for, http_date
from matinee.delivery.tokens import Claims, UrlSigner
from matinee.gateway.config import GatewayConfig, RateLimitConfig
from matinee.gateway.shedding import SheddingConfig
from matinee.platform import Platform
from matinee.runtime.context import RuntimeConfig
from matinee.runtime.monolith import Monolith
from matinee.runtime.transport import AsgiTransport, Response
from matinee.services import gateway, media, registry
from matinee.settings import Settings

DATA = Path(__file__).parents[2] / "delivery" / "data"
KEY = b"media-signing-key-for-tests-0123"
SEGMENT = bytes(range(256)) * 40  # 10240 bytes
FRONT = GatewayConfig(
    shedding=SheddingConfig(enabled=False), rate_limit=RateLimitConfig(enabled=False)
)
OBJECTS = {
    "assets/a1/master.m3u8": ((DATA / "master.m3u8").read_bytes(), "application/vnd.apple.mpegurl"),
    "assets/a1/manifest.mpd": ((DATA / "manifest.mpd").read_bytes(), "application/dash+xml"),
    "assets/a1/video/720p-3000k/00001.m4s": (SEGMENT, "video/iso.segment"),
    "assets/a1/video/720p-3000k/init.mp4": (b"init" * 100, "video/mp4"),
    "assets/a1/text/eng-0/00001.vtt": (b"WEBVTT\n", "text/vtt"),
    "assets/a1/poster.jpg": (b"\xff\xd8jpeg", "image/jpeg"),
}
SEG = "assets/a1/video/720p-3000k/00001.m4s"

Get = Callable[..., Awaitable[Response]]


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    p = Platform(Settings(data_dir=tmp_path / "data"))
    for key, (body, _) in OBJECTS.items():
        p.objects.put_bytes(key, body)
    return p


def signed(key: str, height: int | None = None) -> str:
    claims = Claims("media/assets/a1/", int(time.time() + 600), height)
    return f"/t/{UrlSigner(KEY, SystemClock()).sign(claims)}/media/{key}"


def run(platform: Platform, body: Callable[[Get, Get], Awaitable[None]]) -> None:
    """``body(front, direct)``: requests through the gateway, and straight at media."""

    async def main() -> None:
        monolith = Monolith(
            platform.settings,
            RuntimeConfig(url_signing_key=KEY, gateway=FRONT),
            services=[registry.SPEC, media.SPEC, gateway.SPEC],
            platform=platform,
        )
        front = AsgiTransport({"matinee.test": monolith})
        await monolith.start()

        def getter(transport: AsgiTransport, host: str) -> Get:
            async def get(path: str, method: str = "GET", **headers: str) -> Response:
                items = [(k.replace("_", "-"), v) for k, v in headers.items()]
                return await transport.request(method, f"http://{host}{path}", items)

            return get

        try:
            await body(getter(front, "matinee.test"), getter(monolith.transport, "media-1.local"))
        finally:
            await monolith.leave()
            await monolith.stop()

    asyncio.run(main())


def test_types_caching_validators_and_cors(platform: Platform) -> None:
    async def body(front: Get, direct: Get) -> None:
        for key, (data, kind) in OBJECTS.items():
            info = platform.objects.head(key)
            assert info.last_modified is not None
            mtime = int(info.last_modified.timestamp())
            for get in (front, direct):
                for path in (f"/media/{key}", signed(key)):
                    answer = await get(path)
                    assert (answer.status, answer.body) == (200, data), path
                    assert answer.header("content-type") == kind
                    assert answer.header("content-length") == str(len(data))
                    assert answer.header("etag") == etag_for(len(data), mtime)
                    assert answer.header("last-modified") == http_date(mtime)
                    cache = MANIFEST_CACHE if key.endswith((".m3u8", ".mpd")) else IMMUTABLE
                    assert answer.header("cache-control") == cache
                    assert answer.header("access-control-allow-origin") == "*"
                    exposed = answer.header("access-control-expose-headers") or ""
                    assert {"Content-Range", "Content-Length", "ETag"} <= {
                        h.strip() for h in exposed.split(",")
                    }
                    assert answer.header("accept-ranges") == "bytes"

    run(platform, body)


def test_ranges_and_conditional_requests(platform: Platform) -> None:
    async def body(front: Get, direct: Get) -> None:
        for get in (front, direct):
            for path in (f"/media/{SEG}", signed(SEG)):
                whole = await get(path)
                etag, modified = whole.header("etag"), whole.header("last-modified")
                assert etag is not None
                assert modified is not None
                part = await get(path, range="bytes=100-199")
                assert (part.status, part.body) == (206, SEGMENT[100:200])
                assert part.header("content-range") == f"bytes 100-199/{len(SEGMENT)}"
                suffix = await get(path, range="bytes=-10")
                assert (suffix.status, suffix.body) == (206, SEGMENT[-10:])
                open_ended = await get(path, range="bytes=10000-")
                assert (open_ended.status, open_ended.body) == (206, SEGMENT[10000:])
                past = await get(path, range="bytes=999999-")
                assert past.status == 416
                assert past.header("content-range") == f"bytes */{len(SEGMENT)}"
                junk = await get(path, range="pages=1-2")
                assert (junk.status, junk.body) == (200, SEGMENT)
                cached = await get(path, if_none_match=etag)
                assert (cached.status, cached.body, cached.header("etag")) == (304, b"", etag)
                any_tag = await get(path, if_none_match=f'"other", {etag}')
                assert any_tag.status == 304
                assert (await get(path, if_modified_since=modified)).status == 304
                old = "Mon, 01 Jan 2001 00:00:00 GMT"
                assert (await get(path, if_modified_since=old)).status == 200
                assert (await get(path, if_unmodified_since=old)).status == 412
                assert (await get(path, if_match='"other"')).status == 412
                assert (await get(path, if_match=etag)).status == 200
                kept = await get(path, range="bytes=0-9", if_range=etag)
                assert (kept.status, kept.body) == (206, SEGMENT[:10])
                by_date = await get(path, range="bytes=0-9", if_range=modified)
                assert by_date.status == 206
                changed = await get(path, range="bytes=0-9", if_range='"other"')
                assert (changed.status, changed.body) == (200, SEGMENT)
                head = await get(path, "HEAD")
                assert (head.status, head.body) == (200, b"")
                assert head.header("content-length") == str(len(SEGMENT))
                assert head.header("etag") == etag

    run(platform, body)


def test_cut_manifests_have_their_own_validators(platform: Platform) -> None:
    async def body(front: Get, direct: Get) -> None:
        del direct
        whole = await front(signed("assets/a1/master.m3u8"))
        cut = await front(signed("assets/a1/master.m3u8", height=720))
        assert cut.status == 200
        assert len(cut.body) < len(whole.body)
        assert cut.header("etag") != whole.header("etag")
        assert cut.header("cache-control") == "private, max-age=4"
        again = await front(
            signed("assets/a1/master.m3u8", height=720), if_none_match=cut.header("etag") or ""
        )
        assert again.status == 304
        part = await front(signed("assets/a1/manifest.mpd", height=720), range="bytes=0-4")
        assert (part.status, part.body) == (206, b"<?xml")

    run(platform, body)


def test_browser_preflights_are_answered(platform: Platform) -> None:
    async def body(front: Get, direct: Get) -> None:
        for get in (front, direct):
            for path in (f"/media/{SEG}", signed(SEG)):
                answer = await get(
                    path,
                    "OPTIONS",
                    origin="https://player.example",
                    access_control_request_method="GET",
                    access_control_request_headers="range, if-none-match",
                )
                assert answer.status == 204, (path, answer.body)
                assert answer.header("access-control-allow-origin") == "*"
                assert "GET" in (answer.header("access-control-allow-methods") or "")
                assert answer.header("access-control-allow-headers") == "range, if-none-match"
                assert answer.header("access-control-max-age") == "86400"

    run(platform, body)
