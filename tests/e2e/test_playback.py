"""The player in Chromium: resume after a reload, a refusal over the plan's stream limit,
adaptive bitrate switching down and back up under Chrome DevTools network throttling, and new
signed URLs swapped in mid-play."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import CDPSession, Page, expect

from .pages import (
    api_member,
    assert_plain,
    choose_profile,
    current_time,
    describe_player,
    press_play,
    sign_in,
    wait_for_playback,
)
from .stack import Stack

pytestmark = pytest.mark.slow

BOOKMARK_TIMEOUT_S = 25.0  # the player sends history on pause, and every 10 s anyway
SWITCH_TIMEOUT_MS = 45_000


def _bookmark(page: Page, base: str, title_id: str) -> dict[str, Any] | None:
    response = page.context.request.get(f"{base}/api/history/bookmarks/{title_id}")
    if not response.ok:
        return None
    found: dict[str, Any] = response.json()
    return found


def wait_for_bookmark(page: Page, base: str, title_id: str, near_s: float) -> float:
    """Poll the history service until the title's bookmark is within a second of ``near_s``."""
    deadline = time.monotonic() + BOOKMARK_TIMEOUT_S
    mark = None
    while time.monotonic() < deadline:
        mark = _bookmark(page, base, title_id)
        if mark is not None and abs(float(mark["position_s"]) - near_s) <= 1.0:
            return float(mark["position_s"])
        page.wait_for_timeout(250)
    raise AssertionError(
        f"the bookmark never reached {near_s:.1f} s within {BOOKMARK_TIMEOUT_S:g} s: {mark}"
    )


def test_playback_resumes_where_it_stopped_after_a_reload(stack: Stack, page: Page) -> None:
    title = stack.title_id("Mandelbrot")  # 16 s: the player resumes between 3 s and 11 s
    api_member(page, stack.base_url, "resume")
    press_play(page, title)
    wait_for_playback(page, 5.0)
    page.evaluate("() => window.matinee.video.pause()")
    stopped = current_time(page)
    wait_for_bookmark(page, stack.base_url, title, stopped)

    page.reload()

    position = page.get_by_test_id("resume-position")
    expect(position).to_have_text(re.compile(r"^\d+(\.\d+)?$"))
    resumed = float(position.inner_text())
    assert abs(resumed - stopped) <= 2.0, f"stopped at {stopped:.1f} s, resumed at {resumed} s"
    wait_for_playback(page, resumed + 0.5)
    assert current_time(page) >= stopped - 2.0, describe_player(page)


def test_a_second_device_over_the_plan_stream_limit_is_refused(
    stack: Stack, open_page: Callable[[], Page]
) -> None:
    title = stack.title_id("Mandelbrot")
    first = open_page()
    account = api_member(first, stack.base_url, "limit", plan="basic")  # one stream at a time
    press_play(first, title)
    wait_for_playback(first, 1.0)
    first.evaluate("() => window.matinee.video.pause()")  # paused, it keeps its stream

    second = open_page()  # another browser: its own cookies and device id
    sign_in(second, account.login)
    choose_profile(second, account.profile)
    press_play(second, title)

    error = second.get_by_test_id("player-error")
    expect(error).to_contain_text(re.compile(r"1 stream|at a time", re.I))
    assert_plain(error.inner_text())
    expect(first.get_by_test_id("player-error")).to_have_count(0)


def _height_where(page: Page, test: str, than: int) -> int:
    """Wait until the streamed rendition's height compares ``test`` (``<``, ``>``, ``>=``) to
    ``than``; that height."""
    try:
        handle = page.wait_for_function(
            f"""(than) => {{
              const m = window.matinee;
              const h = m && m.stats().height;
              return h && h {test} than ? h : false;
            }}""",
            arg=than,
            timeout=SWITCH_TIMEOUT_MS,
            polling=250,
        )
    except Exception as exc:
        raise AssertionError(
            f"the rendition never went {test} {than}p: {describe_player(page)}"
        ) from exc
    return int(handle.json_value())


def _link(cdp: CDPSession, kbps: float) -> None:
    rate = kbps * 1000 / 8  # bytes per second
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": rate, "uploadThroughput": rate},
    )


def test_abr_switches_down_then_up_under_throttled_bandwidth(
    stack: Stack, page: Page, ladder_title: str
) -> None:
    api_member(page, stack.base_url, "abr")
    press_play(page, ladder_title)  # 48 s, 144p to 480p (150 kb/s to 2 Mb/s)
    wait_for_playback(page, 0.5)
    high = _height_where(page, ">=", 360)  # unthrottled, it climbs

    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    _link(cdp, 400)  # only 144p (with its audio) fits
    low = _height_where(page, "<", high)

    _link(cdp, 20_000)
    back = _height_where(page, ">", low)

    assert low < high, (high, low, back)
    assert back > low, (high, low, back)
    expect(page.get_by_test_id("player-error")).to_have_count(0)


def test_new_signed_urls_are_swapped_in_mid_play(
    stack: Stack, page: Page, ladder_title: str
) -> None:
    api_member(page, stack.base_url, "refresh")
    signed: list[str] = []
    page.on("request", lambda r: signed.append(r.url) if "/t/v1." in r.url else None)
    press_play(page, ladder_title)  # 48 s; the player buffers 30 s ahead
    wait_for_playback(page, 0.5)
    first = page.evaluate("() => window.matinee.engine.urls.token")
    page.wait_for_timeout(1100)  # a token names its expiry in whole seconds: another second
    page.evaluate("() => window.matinee.engine.refreshUrls()")  # what its timer does
    second = page.evaluate("() => window.matinee.engine.urls.token")
    assert second != first
    assert page.evaluate("() => window.matinee.engine.urls.refreshes") == 1
    fetched = len(signed)
    page.evaluate("() => { window.matinee.video.currentTime = 40; }")  # beyond the buffer
    wait_for_playback(page, 40.5)
    after = [url for url in signed[fetched:] if "/media/assets/" in url]
    assert after, "nothing was fetched after the seek"
    assert all(f"/t/{second}/" in url for url in after), after
    expect(page.get_by_test_id("player-error")).to_have_count(0)
