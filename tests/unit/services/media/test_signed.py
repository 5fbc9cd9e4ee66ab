"""Signed media through the gateway: ``/t/<token>/media/...`` served, filtered or refused.

A monolith (registry, media, gateway) runs in this process with a known URL-signing key; the
object store holds the manifests matinee's pipeline wrote for a 1080p title (the same captured
files as the delivery unit tests) and a few stand-in segments.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from matinee.clock import SystemClock
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
MASTER = (DATA / "master.m3u8").read_bytes()
MPD = (DATA / "manifest.mpd").read_bytes()
KEY = b"media-signing-key-for-tests-0123"
PREFIX = "media/assets/a1/"
SEGMENT_720 = b"7" * 5000
SEGMENT_1080 = b"1" * 9000

Get = Callable[..., Awaitable[Response]]
# Nothing shed or rate-limited: a busy shared test machine is slow, not overloaded.
FRONT = GatewayConfig(
    shedding=SheddingConfig(enabled=False), rate_limit=RateLimitConfig(enabled=False)
)


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    p = Platform(Settings(data_dir=tmp_path / "data"))
    p.objects.put_bytes("assets/a1/master.m3u8", MASTER)
    p.objects.put_bytes("assets/a1/manifest.mpd", MPD)
    p.objects.put_bytes("assets/a1/video/720p-3000k/00001.m4s", SEGMENT_720)
    p.objects.put_bytes("assets/a1/video/1080p-6000k/00001.m4s", SEGMENT_1080)
    p.objects.put_bytes("assets/a1/audio/eng-0/index.m3u8", b"#EXTM3U\n")
    p.objects.put_bytes("assets/a2/master.m3u8", MASTER)
    p.objects.put_bytes("masters/j1/source.mp4", b"the studio master")
    (tmp_path / "secret.txt").write_text("outside the store")
    return p


def signer() -> UrlSigner:
    return UrlSigner(KEY, SystemClock())


def token(
    prefix: str = PREFIX, ttl: float = 600, *, height: int | None = 720, ip: str | None = None
) -> str:
    return signer().sign(Claims(prefix, int(time.time() + ttl), height, ip))


def run(platform: Platform, body: Callable[[Get], Awaitable[None]]) -> None:
    async def main() -> None:
        monolith = Monolith(
            platform.settings,
            RuntimeConfig(url_signing_key=KEY, gateway=FRONT),
            services=[registry.SPEC, media.SPEC, gateway.SPEC],
            platform=platform,
        )
        front = AsgiTransport({"matinee.test": monolith})
        await monolith.start()

        async def get(
            path: str, method: str = "GET", *, host: str = "matinee.test", **headers: str
        ) -> Response:
            transport = front if host == "matinee.test" else monolith.transport
            return await transport.request(method, f"http://{host}{path}", list(headers.items()))

        try:
            await body(get)
        finally:
            await monolith.leave()
            await monolith.stop()

    asyncio.run(main())


def test_manifests_come_cut_to_the_tokens_height(platform: Platform) -> None:
    async def body(get: Get) -> None:
        tok = token()
        hls = await get(f"/t/{tok}/{PREFIX}master.m3u8")
        assert hls.status == 200
        assert hls.header("content-type") == "application/vnd.apple.mpegurl"
        assert hls.header("access-control-allow-origin") == "*"
        assert b"RESOLUTION=1280x720" in hls.body
        assert b"1080p" not in hls.body
        assert hls.body.count(b"#EXT-X-MEDIA:") == 4
        head = await get(f"/t/{tok}/{PREFIX}master.m3u8", "HEAD")
        assert (head.status, head.body) == (200, b"")
        assert head.header("content-length") == str(len(hls.body))
        dash = await get(f"/t/{tok}/{PREFIX}manifest.mpd")
        assert dash.status == 200
        assert dash.header("content-type") == "application/dash+xml"
        assert b'height="720"' in dash.body
        assert b'height="1080"' not in dash.body
        # Without a height cap the manifests are the stored files, byte for byte.
        whole = await get(f"/t/{token(height=None)}/{PREFIX}master.m3u8")
        assert whole.body == MASTER

    run(platform, body)


def test_segments_are_served_with_ranges_up_to_the_cap(platform: Platform) -> None:
    async def body(get: Get) -> None:
        tok = token()
        seg = await get(f"/t/{tok}/{PREFIX}video/720p-3000k/00001.m4s")
        assert (seg.status, seg.body) == (200, SEGMENT_720)
        assert seg.header("content-type") == "video/iso.segment"
        part = await get(f"/t/{tok}/{PREFIX}video/720p-3000k/00001.m4s", range="bytes=10-19")
        assert (part.status, part.body) == (206, SEGMENT_720[10:20])
        head = await get(f"/t/{tok}/{PREFIX}video/720p-3000k/00001.m4s", "HEAD")
        assert (head.status, head.body, head.header("content-length")) == (200, b"", "5000")
        playlist = await get(f"/t/{tok}/{PREFIX}audio/eng-0/index.m3u8")
        assert (playlist.status, playlist.body) == (200, b"#EXTM3U\n")
        tall = await get(f"/t/{tok}/{PREFIX}video/1080p-6000k/00001.m4s")
        assert tall.status == 403
        assert tall.json()["error"] == "rendition_not_allowed"
        premium = await get(f"/t/{token(height=2160)}/{PREFIX}video/1080p-6000k/00001.m4s")
        assert (premium.status, premium.body) == (200, SEGMENT_1080)
        missing = await get(f"/t/{tok}/{PREFIX}video/720p-3000k/00009.m4s")
        assert (missing.status, missing.json()["error"]) == (404, "object_not_found")

    run(platform, body)


def test_altered_expired_and_misdirected_tokens_get_403(platform: Platform) -> None:
    async def body(get: Get) -> None:
        good = token()
        flipped = good[:-2] + ("A" if good[-2] != "A" else "B") + good[-1]
        cases = {
            flipped: "token_invalid",
            good.replace("v1.", "v2.", 1): "token_invalid",
            "not-a-token": "token_invalid",
            token(ttl=-1): "token_expired",
            token("media/assets/a2/"): "token_wrong_path",
            token(ip="203.0.113.9"): "token_wrong_client",
        }
        for tok, code in cases.items():
            answer = await get(f"/t/{tok}/{PREFIX}master.m3u8")
            assert answer.status == 403, (code, answer.body)
            assert answer.json()["error"] == code
            assert answer.json()["message"][0].isupper()  # plain words, not a trace
        # The gateway records this client as 127.0.0.1: a token bound to it works.
        bound = await get(f"/t/{token(ip='127.0.0.1')}/{PREFIX}master.m3u8")
        assert bound.status == 200

    run(platform, body)


def test_traversal_is_refused_and_never_served(platform: Platform) -> None:
    async def body(get: Get) -> None:
        tok = token()
        for path in (
            f"{PREFIX}../a2/master.m3u8",
            f"{PREFIX}../../../secret.txt",
            f"{PREFIX}%2e%2e/a2/master.m3u8",
            f"{PREFIX}%2E%2E/%2e%2e/masters/j1/source.mp4",
            f"{PREFIX}%252e%252e/a2/master.m3u8",
            f"{PREFIX}..%2f..%2fmasters/j1/source.mp4",
            f"{PREFIX}video/..%5c..%5cmaster.m3u8",
            f"{PREFIX}./master.m3u8",
            f"{PREFIX}/master.m3u8",
            "",
        ):
            # The gateway refuses plain dot segments itself; the media service (which an edge
            # or a misrouted call reaches without the gateway) refuses every form.
            answer = await get(f"/t/{tok}/{path}")
            assert answer.status == 400, (path, answer.status, answer.body)
            assert answer.json()["error"] in ("bad_request", "unsafe_path")
            direct = await get(f"/t/{tok}/{path}", host="media-1.local")
            assert direct.status == 400, (path, direct.status, direct.body)
            assert direct.json()["error"] == "unsafe_path"
            assert b"outside the store" not in answer.body + direct.body

    run(platform, body)


def test_a_token_cannot_reach_beyond_packaged_assets(platform: Platform) -> None:
    async def body(get: Get) -> None:
        masters = await get(f"/t/{token('masters/')}/masters/j1/source.mp4")
        assert masters.status == 404
        bare = await get(f"/t/{token('assets/a1/')}/assets/a1/master.m3u8")
        assert bare.status == 404  # signed paths always start with media/

    run(platform, body)
