"""In a real player in Chromium, the first edge of the ranked list is killed mid-playback, and
playback continues from the next host with no stall longer than 2 s.

The list comes from steering (two live edges of the client's region, the CDN tier, the
origin). Shaka Player fails over through a request filter (``failover.html``): each request
carries one URI per host in order of preference, Shaka's retry walks them, and a host that
failed is moved to the end for the requests after it.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser

from matinee.clock import SystemClock
from matinee.delivery.tokens import UrlSigner, signed_path
from matinee.platform import Platform
from matinee.testing.players import chromium, serve

from .harness import KEY, CdnPlatform, EdgeSpec, wait_for
from .titles import packaged_asset

pytestmark = pytest.mark.slow

STEERING = """
default_region = "local"
poll_interval_s = 0.5
stale_after_s = 2.0

[fill]
start_hour = 0
end_hour = 0
"""
PAGE = Path(__file__).with_name("failover.html")
TITLE_S = 30.0
KILL_AT_S = 6.0
PLAY_UNTIL_S = 22.0
MAX_STALL_MS = 2000.0

SNAPSHOT = """() => {
  const v = document.getElementById("video");
  const s = window.__matinee;
  const ongoing = s.waitingSince === null ? 0 : performance.now() - s.waitingSince;
  return {t: v.currentTime, ended: v.ended, fatal: s.fatal, errors: s.errors,
          warnings: s.warnings, stalls: s.stalls, ongoing: ongoing,
          frozen: s.maxFrozenMs, failovers: s.failovers, served: s.served, order: s.order,
          frames: v.getVideoPlaybackQuality().totalVideoFrames};
}"""


@pytest.fixture(scope="module")
def browser() -> Any:
    with chromium() as launched:
        yield launched


def test_playback_survives_the_first_edge_being_killed(tmp_path: Path, browser: Browser) -> None:
    made: dict[str, str] = {}

    def prepare(platform: Platform) -> None:
        made["asset"] = packaged_asset(platform, tmp_path / "title", seconds=TITLE_S)

    edges = [EdgeSpec("edge-1"), EdgeSpec("edge-2"), EdgeSpec("edge-eu", region="eu")]
    with CdnPlatform(tmp_path / "cdn", edges, STEERING, prepare=prepare) as cdn:
        prefix = f"media/assets/{made['asset']}/"
        local = [("edge-1", "edge"), ("edge-2", "edge"), ("cdn", "cdn"), ("origin", "origin")]

        def ranked() -> list[dict[str, Any]]:
            return cdn.rank("t-player", prefix)

        wait_for("the ranked list", lambda: [(h["name"], h["kind"]) for h in ranked()] == local)
        hosts = [h["base_url"] for h in ranked()]
        token, _ = UrlSigner(KEY.encode(), SystemClock()).issue(prefix, 3600)
        path = signed_path(token, prefix + "manifest.mpd")

        site = tmp_path / "site"
        site.mkdir()
        shutil.copy(PAGE, site / "failover.html")
        with serve(site) as server:
            query = urlencode({"hosts": json.dumps(hosts), "path": path})
            report = play(browser, f"{server.base_url}/failover.html?{query}", cdn)

    stalls = [*report["stalls"], report["ongoing"]]
    longest = max([*stalls, report["frozen"]])
    print(  # a measured figure for the report
        f"killed edge-1 at t={report['killed_at_t']:.1f} s; played to t={report['t']:.1f} s;"
        f" failovers {report['failovers']}; served {report['served']};"
        f" stalls {[round(s) for s in stalls]} ms; longest frozen {report['frozen']:.0f} ms"
    )
    assert not report["fatal"], report["errors"]
    assert report["t"] >= PLAY_UNTIL_S, report
    assert any(f["from"] == hosts[0] for f in report["failovers"]), report
    assert report["served_after_kill"].get(hosts[1], 0) > 0, report  # the next edge served
    assert longest < MAX_STALL_MS, report


def play(browser: Browser, url: str, cdn: CdnPlatform) -> dict[str, Any]:
    """Play until PLAY_UNTIL_S, killing edge-1 once playback passes KILL_AT_S."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(url)
        deadline = time.monotonic() + 90
        killed_at: float | None = None
        served_at_kill: dict[str, int] = {}
        while True:
            snap: dict[str, Any] = page.evaluate(SNAPSHOT)
            if snap["fatal"] or snap["ended"] or snap["t"] >= PLAY_UNTIL_S:
                break
            if killed_at is None and snap["t"] >= KILL_AT_S:
                cdn.running["edge-1"].kill()
                killed_at = snap["t"]
                served_at_kill = dict(snap["served"])
            assert time.monotonic() < deadline, f"playback stuck: {snap}"
            page.wait_for_timeout(100)
        assert killed_at is not None, f"playback never reached {KILL_AT_S} s: {snap}"
        snap["killed_at_t"] = killed_at
        snap["served_after_kill"] = {
            h: n - served_at_kill.get(h, 0) for h, n in snap["served"].items()
        }
        return snap
    finally:
        context.close()
