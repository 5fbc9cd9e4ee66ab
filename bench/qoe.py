"""Benchmark: quality of experience of the viewer's player in Chromium, under three networks.

One title (a 120 s 1080p Mandelbrot zoom ingested on the default ladder), played through the
viewer app's own pages (title page, play button, player page) served by the monolith on
loopback, in headless Debian Chromium:

    (a) loopback     no throttling
    (b) 3mbps        3 Mb/s down, 20 ms round trip, for the whole run
    (c) step         8 Mb/s, then 1.5 Mb/s from 25 s, then 8 Mb/s again from 45 s to 90 s

The title is longer than the trace by more than the player's buffer (30 s ahead): after the step
up there is still media to fetch, so the player can measure the faster link and climb.

The link is shaped with Chrome DevTools network emulation (``Network.emulateNetworkConditions``
over CDP), which throttles one page's requests, so every condition runs in a page and browser
context of its own (a cold HTTP cache). ``window.matinee.stats()`` is sampled every 250 ms in
the page; time to first frame is measured independently, from the click on ``play-button`` to
the first frame the video presents (``requestVideoFrameCallback``), and stalls from the video's
``waiting``/``playing`` events after that frame.

Writes docs/qoe-loopback.png, docs/qoe-3mbps.png, docs/qoe-step.png and bench/out/qoe.json,
and prints a markdown table for docs/benchmarks.md. The master and its ingest are kept in
bench/out/ (made once, about 10 minutes on 2 idle cores; ``--fresh`` makes them again).

    .venv/bin/python bench/qoe.py [--only loopback,3mbps,step] [--seconds 120] [--fresh] [--prepare]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, expect
from qoe_report import Condition, Run, analyse, markdown_table, plot

from matinee.assets.models import Asset
from matinee.clock import SystemClock
from matinee.db.aio import Database
from matinee.jobs.models import JobState
from matinee.media.samples import AudioSpec, SampleSpec, make_sample
from matinee.platform import Platform
from matinee.runtime.config import load_runtime_config
from matinee.runtime.monolith import Monolith
from matinee.seed import publish_movie
from matinee.services.catalog.service import CatalogService
from matinee.settings import Settings
from matinee.testing.discovery import ThreadedServer
from matinee.testing.players import chromium
from matinee.testing.servers import pick_port

BENCH: Final = Path(__file__).resolve().parent
OUT: Final = BENCH / "out"
DOCS: Final = BENCH.parent / "docs"
DATA: Final = OUT / "qoe-data"
PORTS: Final = (16300, 16399)
PASSWORD: Final = "qoe bench password"  # noqa: S105 - a throwaway account of the bench
CARD: Final = "4242424242424242"
SAMPLE_MS: Final = 250
THROTTLED_RTT_MS: Final = 20

CONDITIONS: Final = (
    Condition("loopback", "(a) loopback", ((0.0, None),), watch_s=30.0),
    Condition("3mbps", "(b) 3 Mb/s", ((0.0, 3.0),), watch_s=40.0),
    Condition("step", "(c) 8 → 1.5 → 8 Mb/s", ((0.0, 8.0), (25.0, 1.5), (45.0, 8.0)), 90.0),
)

# Installed in every page before the app's own scripts: when play is pressed, when the first
# frame is presented, stalls after it, and stats() every SAMPLE_MS.
INSTRUMENT_JS: Final = """(() => {
  const q = (window.__qoe = { t0: null, firstFrame: null, samples: [], stalls: [], errors: [] });
  document.addEventListener("click", (e) => {
    const hit = e.target instanceof Element && e.target.closest('[data-testid="play-button"]');
    if (hit && q.t0 === null) q.t0 = performance.now();
  }, true);
  let hooked = null;
  function hook(v) {
    if (hooked === v) return;
    hooked = v;
    if (v.requestVideoFrameCallback) {
      v.requestVideoFrameCallback((now) => { if (q.firstFrame === null) q.firstFrame = now; });
    } else {
      v.addEventListener("playing", () => {
        if (q.firstFrame === null) q.firstFrame = performance.now();
      });
    }
    v.addEventListener("waiting", () => {
      const last = q.stalls[q.stalls.length - 1];
      if (q.firstFrame !== null && !v.seeking && (!last || last[1] !== null))
        q.stalls.push([performance.now(), null]);
    });
    v.addEventListener("playing", () => {
      const last = q.stalls[q.stalls.length - 1];
      if (last && last[1] === null) last[1] = performance.now();
    });
  }
  setInterval(() => {
    const m = window.matinee;
    const v = (m && m.video) || document.querySelector("video");
    if (v) hook(v);
    if (!m || typeof m.stats !== "function" || q.t0 === null) return;
    try {
      q.samples.push({ at: performance.now(), ...m.stats(), current: v ? v.currentTime : 0,
                       paused: v ? v.paused : true, ended: v ? v.ended : false });
    } catch (e) {
      q.errors.push(String(e));
    }
  }, __SAMPLE_MS__);
})();""".replace("__SAMPLE_MS__", str(SAMPLE_MS))

# Chrome's network emulation also sets the Network Information API (navigator.connection) to the
# emulated link, at once, and fires its change event; Shaka reads it (abr.useNetworkInformation)
# and resets its estimate to it. A real link changes without telling the browser, so by default
# the page does not see that API and the player has to measure (--network-information keeps it).
HIDE_NETWORK_INFORMATION_JS: Final = """
Object.defineProperty(Navigator.prototype, "connection", {
  get: () => undefined, configurable: true,
});
"""

VARIANTS_JS: Final = """() => {
  const p = window.matinee && window.matinee.player;
  if (!p) return [];
  return p.getVariantTracks().map((t) => ({ height: t.height, bandwidth: t.bandwidth }));
}"""


# ---------------------------------------------------------------------------------------------
# The title: made and ingested once, kept in bench/out/
# ---------------------------------------------------------------------------------------------


def bench_settings(port: int, preset: str) -> Settings:
    """The platform's defaults (4 s segments, the default ladder), on a data dir of its own."""
    return Settings(data_dir=DATA, x264_preset=preset, host="127.0.0.1", port=port, edges=0)


def ensure_asset(platform: Platform, seconds: float) -> Asset:
    name = title_name(platform, seconds)
    for asset in platform.assets.all():
        if asset.title == name:
            return asset
    master = OUT / f"qoe-source-1080p-{seconds:g}s.mp4"
    if not master.exists():
        print(f"making a {seconds:g} s 1080p master (Mandelbrot zoom) ...", flush=True)
        spec = SampleSpec(
            pattern="mandelbrot", width=1920, height=1080, fps=Fraction(25), seconds=seconds,
            audio=(AudioSpec("eng", 440),),
        )  # fmt: skip
        make_sample(master, spec)
    print(f"ingesting {name!r} on the default ladder (takes a few minutes) ...", flush=True)
    started = time.monotonic()
    job = platform.submit(master, name)
    with platform.runner() as runner:
        state = runner.run(job.id)
    if state is not JobState.SUCCEEDED:
        raise SystemExit(f"ingest failed: {platform.jobs.get(job.id).error}")
    print(f"ingested in {time.monotonic() - started:.0f} s", flush=True)
    return next(a for a in platform.assets.all() if a.title == name)


def title_name(platform: Platform, seconds: float) -> str:
    return f"QoE Mandelbrot {seconds:g}s {platform.settings.x264_preset}"


async def publish(database_url: str, asset: Asset) -> str:
    """The catalog title for the asset (made once): linked, available in the US, published."""
    db = Database(database_url)
    try:
        catalog = CatalogService(db, SystemClock())
        page = await catalog.admin_titles(kind=None, sort="name", cursor=None, limit=100)
        for title in page.items:
            if title.name == asset.title:
                return title.id
        synopsis = "A zoom into the Mandelbrot set, for measuring playback."
        return await publish_movie(catalog, asset, synopsis)
    finally:
        await db.close()


@contextmanager
def served(platform: Platform) -> Iterator[str]:
    """The monolith (origin only, as `make run`) on settings.port until the block ends."""
    settings = platform.settings
    app = Monolith(settings, load_runtime_config(settings), platform=platform)
    # uvicorn's fast defaults (uvloop, httptools), as the figures were measured with.
    server = ThreadedServer(
        app, settings.port, host=settings.host, start_seconds=60, loop="auto", http="auto"
    )
    try:
        server.start()
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from exc
    try:
        yield server.url
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------
# The browser
# ---------------------------------------------------------------------------------------------


def _ok(context: BrowserContext, method: str, url: str, **kwargs: Any) -> Any:
    response = context.request.fetch(url, method=method, **kwargs)
    if not response.ok:
        raise SystemExit(f"{method} {url}: HTTP {response.status} {response.text()[:300]}")
    return response.json() if response.status != 204 else None


def sign_in(context: BrowserContext, base: str, email: str, profile: str, *, new: bool) -> None:
    """Sign up (subscribed, premium) or sign in, then watch as a new profile ``profile``: one
    per condition, so no condition resumes from where the one before stopped."""
    if new:
        body = {"email": email, "password": PASSWORD, "country": "US"}
        _ok(context, "POST", base + "/api/identity/signup", data=body)
        card = {"plan": "premium", "card_number": CARD, "exp_month": 12, "exp_year": 2040}
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        _ok(context, "POST", base + "/api/billing/subscription", data={**card, "cvc": "123"},
            headers=headers)  # fmt: skip
    else:
        _ok(context, "POST", base + "/api/identity/signin", data={"email": email,
            "password": PASSWORD})  # fmt: skip
    created = _ok(context, "POST", base + "/api/identity/profiles", data={"name": profile})
    _ok(context, "POST", base + f"/api/identity/profiles/{created['id']}/select")


def set_link(cdp: CDPSession, mbps: float | None) -> None:
    conditions: dict[str, Any]
    if mbps is None:
        conditions = {"offline": False, "latency": 0, "downloadThroughput": -1,
                      "uploadThroughput": -1}  # fmt: skip
    else:
        rate = mbps * 1_000_000 / 8  # bytes per second
        conditions = {"offline": False, "latency": THROTTLED_RTT_MS,
                      "downloadThroughput": rate, "uploadThroughput": rate}  # fmt: skip
    cdp.send("Network.emulateNetworkConditions", conditions)


def now_ms(page: Page) -> float:
    return float(page.evaluate("() => performance.now()"))


def run_condition(
    browser: Browser,
    base: str,
    title_id: str,
    email: str,
    cond: Condition,
    *,
    new: bool,
    network_information: bool,
) -> Run:
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 720})
    try:
        sign_in(context, base, email, cond.name, new=new)
        page = context.new_page()
        page.add_init_script(INSTRUMENT_JS)
        if not network_information:
            page.add_init_script(HIDE_NETWORK_INFORMATION_JS)
        page.goto(f"/title/{title_id}")
        expect(page.get_by_test_id("play-button")).to_be_visible(timeout=20_000)
        page.wait_for_load_state("networkidle")
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        set_link(cdp, cond.schedule[0][1])
        changes = [(now_ms(page), cond.schedule[0][1])]
        page.get_by_test_id("play-button").click()
        started = time.monotonic()
        for at, mbps in cond.schedule[1:]:
            page.wait_for_timeout(max(0.0, started + at - time.monotonic()) * 1000)
            set_link(cdp, mbps)
            changes.append((now_ms(page), mbps))
            print(f"  {cond.name}: link now {mbps or 'unthrottled'} Mb/s at {at:g} s", flush=True)
        page.wait_for_timeout(max(0.0, started + cond.watch_s - time.monotonic()) * 1000)
        qoe = page.evaluate("() => window.__qoe")
        variants = page.evaluate(VARIANTS_JS)
        ended_at = now_ms(page)
        page.screenshot(path=str(OUT / f"qoe-{cond.name}.png"))
        page.goto("about:blank")  # leave the player: it stops its stream
        run = Run(cond, qoe, variants, changes, ended_at)
        raw = {"condition": cond.name, "qoe": qoe, "variants": variants, "changes": changes,
               "ended_at": ended_at}  # fmt: skip
        (OUT / f"qoe-raw-{cond.name}.json").write_text(json.dumps(raw) + "\n")
        return run
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", default=",".join(c.name for c in CONDITIONS))
    parser.add_argument("--seconds", type=float, default=120.0, help="length of the title")
    parser.add_argument("--preset", default="veryfast", help="x264 preset of the ingest")
    parser.add_argument("--fresh", action="store_true", help="make and ingest the title again")
    parser.add_argument("--prepare", action="store_true", help="only make and ingest the title")
    parser.add_argument(
        "--network-information",
        action="store_true",
        help="let the player see the emulated link through navigator.connection (plots go to "
        "bench/out/ instead of docs/)",
    )
    args = parser.parse_args()
    wanted = [c for c in CONDITIONS if c.name in args.only.split(",")]
    if args.fresh:
        shutil.rmtree(DATA, ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    platform = Platform(bench_settings(pick_port(*PORTS), args.preset))
    asset = ensure_asset(platform, args.seconds)
    title_id = asyncio.run(publish(platform.settings.resolved_database_url, asset))
    if args.prepare:
        print(f"ready: {asset.title!r} is title {title_id}")
        return
    email = f"qoe-{uuid.uuid4().hex[:10]}@bench.matinee.test"
    results = []
    with served(platform) as base, chromium() as browser:
        for n, cond in enumerate(wanted):
            print(f"{cond.label}: playing for {cond.watch_s:g} s ...", flush=True)
            run = run_condition(
                browser,
                base,
                title_id,
                email,
                cond,
                new=n == 0,
                network_information=args.network_information,
            )
            result = analyse(run)
            where = OUT / f"qoe-{cond.name}-netinfo.png" if args.network_information else None
            plot(run, result, where or DOCS / f"qoe-{cond.name}.png")
            results.append(result)
    summary = {
        "title": asset.title,
        "duration_s": asset.duration,
        "preset": args.preset,
        "segment_seconds": platform.settings.segment_seconds,
        "network_information": args.network_information,
        "results": [asdict(r) for r in results],
    }
    name = "qoe-netinfo.json" if args.network_information else "qoe.json"
    (OUT / name).write_text(json.dumps(summary, indent=2) + "\n")
    print()
    print(markdown_table(results))


if __name__ == "__main__":
    main()
