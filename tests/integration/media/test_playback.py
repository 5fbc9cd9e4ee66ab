"""Packages made by the ingest pipeline play in real browser players.

The titles come from the shared session fixtures (a 6 s title with English and French audio and
English and French subtitles, and a 6 s title with no audio at all). Each is served straight from
the embedded object store's directory, ``<data_dir>/objects/assets/<job_id>/``, and played in
headless Chromium by hls.js, Shaka Player (DASH and HLS) and dash.js. Playing means the harness's
three checks: currentTime past 3 s, a decoded picture, more than 30 frames decoded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import pytest
from playwright.sync_api import Browser

from matinee.testing.players import (
    Player,
    StaticServer,
    chromium,
    harness_url,
    play_in_browser,
    serve,
)

from .conftest import Title

pytestmark = pytest.mark.slow

PLAY_TIMEOUT_S: Final = 30.0
TRACKS_TIMEOUT_MS: Final = 20_000
CASES: Final[list[tuple[Player, str]]] = [
    ("hls.js", "master.m3u8"),
    ("shaka", "manifest.mpd"),
    ("shaka", "master.m3u8"),
    ("dashjs", "manifest.mpd"),
]
IDS: Final = [f"{player}-{manifest.split('.')[1]}" for player, manifest in CASES]
# The ladder's rungs that fit a 640x360 master.
RUNG_SIZES: Final = {(416, 234), (640, 360)}

# Per player: the audio and subtitle languages it offers the viewer, or null until it knows.
_TRACKS_JS: Final[dict[Player, str]] = {
    "hls.js": """() => {
      const p = window.__matinee && window.__matinee.instance;
      if (!p || !p.audioTracks.length || !p.subtitleTracks.length) return null;
      return { audio: p.audioTracks.map((t) => t.lang), text: p.subtitleTracks.map((t) => t.lang) };
    }""",
    "shaka": """() => {
      const p = window.__matinee && window.__matinee.instance;
      if (!p || !p.getAudioTracks().length || !p.getTextTracks().length) return null;
      return {
        audio: p.getAudioTracks().map((t) => t.language),
        text: p.getTextTracks().map((t) => t.language),
      };
    }""",
    "dashjs": """() => {
      const p = window.__matinee && window.__matinee.instance;
      let audio, text;
      try { audio = p.getTracksFor("audio"); text = p.getTracksFor("text"); }
      catch (e) { return null; }  // not initialized yet
      if (!audio.length || !text.length) return null;
      return { audio: audio.map((t) => t.lang), text: text.map((t) => t.lang) };
    }""",
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def av_server(av_title: Title) -> Iterator[StaticServer]:
    with serve(av_title.root) as running:
        yield running


@pytest.fixture(scope="module")
def video_only_server(video_only_title: Title) -> Iterator[StaticServer]:
    with serve(video_only_title.root) as running:
        yield running


def _assert_plays(browser: Browser, server: StaticServer, player: Player, manifest: str) -> None:
    report = play_in_browser(
        browser, server.base_url, player, server.url(manifest), timeout_s=PLAY_TIMEOUT_S
    )
    assert report.passed, report.summary()
    assert report.errors == [], report.summary()
    assert (report.video_width, report.video_height) in RUNG_SIZES, report.summary()


@pytest.mark.parametrize(("player", "manifest"), CASES, ids=IDS)
def test_title_with_audio_and_subtitles_plays(
    browser: Browser, av_server: StaticServer, player: Player, manifest: str
) -> None:
    _assert_plays(browser, av_server, player, manifest)


@pytest.mark.parametrize(("player", "manifest"), CASES, ids=IDS)
def test_players_offer_both_audio_languages_and_both_subtitle_languages(
    browser: Browser, av_server: StaticServer, player: Player, manifest: str
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(harness_url(av_server.base_url, player, av_server.url(manifest)))
        handle = page.wait_for_function(_TRACKS_JS[player], timeout=TRACKS_TIMEOUT_MS)
        tracks: dict[str, Any] = handle.json_value()
    finally:
        context.close()
    assert sorted(set(tracks["audio"])) == ["en", "fr"], tracks
    assert sorted(set(tracks["text"])) == ["en", "fr"], tracks


@pytest.mark.parametrize(("player", "manifest"), CASES, ids=IDS)
def test_video_only_title_plays(
    browser: Browser, video_only_server: StaticServer, player: Player, manifest: str
) -> None:
    _assert_plays(browser, video_only_server, player, manifest)
