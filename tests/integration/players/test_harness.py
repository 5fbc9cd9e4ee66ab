"""The player harness proves a packaged title plays in hls.js, Shaka Player and dash.js."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from matinee.testing.players import (
    HARNESS_PATH,
    PLAYER_SCRIPTS,
    PLAYERS,
    Player,
    StaticServer,
    play_in_browser,
    serve,
)

pytestmark = pytest.mark.slow

PLAY_TIMEOUT_S = 30.0


def test_packaged_title_is_vod_cmaf(packaged_title: Path) -> None:
    mpd = (packaged_title / "manifest.mpd").read_text()
    assert re.search(r'<MPD[^>]*\stype="static"', mpd), mpd
    assert "SegmentTemplate" in mpd
    master = (packaged_title / "master.m3u8").read_text()
    assert master.count("#EXT-X-STREAM-INF") == 2
    for playlist in ("video_360.m3u8", "video_216.m3u8", "audio.m3u8"):
        text = (packaged_title / playlist).read_text()
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in text
        assert "#EXT-X-ENDLIST" in text
    assert sorted(p.name for p in (packaged_title / "video_360").iterdir()) == [
        "1.m4s",
        "2.m4s",
        "init.mp4",
    ]


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("master.m3u8", "application/vnd.apple.mpegurl"),
        ("manifest.mpd", "application/dash+xml"),
        ("video_360/init.mp4", "video/mp4"),
        ("audio/1.m4s", "video/mp4"),
        (HARNESS_PATH, "text/html; charset=utf-8"),
        *[
            (f"players/{script}", "text/javascript; charset=utf-8")
            for script in PLAYER_SCRIPTS.values()
        ],
    ],
)
def test_server_sends_streaming_content_types_and_cors(
    server: StaticServer, path: str, content_type: str
) -> None:
    response = httpx.get(server.url(path), headers={"Origin": "http://elsewhere.test"})
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["access-control-allow-origin"] == "*"
    assert int(response.headers["content-length"]) == len(response.content) > 0


def test_server_answers_preflight_and_keeps_to_its_directories(server: StaticServer) -> None:
    preflight = httpx.options(
        server.url("manifest.mpd"),
        headers={"Origin": "http://elsewhere.test", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert httpx.get(server.url("missing.mpd")).status_code == 404
    # ".." cannot climb out of the served directory (the title's parent holds the encodes).
    assert httpx.get(server.url("../encoded/audio.mp4")).status_code == 404
    assert httpx.get(server.url("players/../../encoded/audio.mp4")).status_code == 404


def test_server_shuts_down_cleanly(tmp_path: Path) -> None:
    (tmp_path / "a.vtt").write_text("WEBVTT\n")
    with serve(tmp_path) as running:
        url = running.url("a.vtt")
        response = httpx.get(url)
        assert response.headers["content-type"] == "text/vtt"
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)


@pytest.mark.parametrize(
    ("player", "manifest"),
    [
        ("hls.js", "master.m3u8"),
        ("shaka", "manifest.mpd"),
        ("shaka", "master.m3u8"),
        ("dashjs", "manifest.mpd"),
    ],
)
def test_player_plays_packaged_title(
    browser: Browser, server: StaticServer, player: Player, manifest: str
) -> None:
    report = play_in_browser(
        browser, server.base_url, player, server.url(manifest), timeout_s=PLAY_TIMEOUT_S
    )
    assert report.passed, report.summary()
    assert report.errors == [], report.summary()
    assert report.video_width in (640, 384)


def test_manifest_on_another_origin_plays_through_cors(
    browser: Browser, server: StaticServer, packaged_title: Path
) -> None:
    # The harness page comes from one origin and the title from another, as with a CDN edge.
    with serve(packaged_title) as edge:
        assert edge.base_url != server.base_url
        report = play_in_browser(
            browser, server.base_url, "dashjs", edge.url("manifest.mpd"), timeout_s=PLAY_TIMEOUT_S
        )
    assert report.passed, report.summary()


@pytest.mark.parametrize("player", PLAYERS)
def test_missing_manifest_is_reported_not_hung(
    browser: Browser, server: StaticServer, player: Player
) -> None:
    manifest = "nowhere/master.m3u8" if player == "hls.js" else "nowhere/manifest.mpd"
    timeout_s = 20.0
    started = time.monotonic()
    report = play_in_browser(
        browser, server.base_url, player, server.url(manifest), timeout_s=timeout_s
    )
    assert time.monotonic() - started < timeout_s + 5
    assert not report.passed
    assert report.errors, report.summary()
    assert len(report.failed_checks()) == 3, report.summary()


def test_timeout_bounds_the_wait_when_not_stopping_on_fatal_errors(
    browser: Browser, server: StaticServer
) -> None:
    started = time.monotonic()
    report = play_in_browser(
        browser,
        server.base_url,
        "hls.js",
        server.url("nowhere/master.m3u8"),
        timeout_s=2.0,
        stop_on_fatal=False,
    )
    elapsed = time.monotonic() - started
    assert 2.0 <= elapsed < 5.0
    assert 1.8 <= report.elapsed_s <= elapsed
    assert any("manifestLoadError" in e for e in report.errors), report.summary()
