"""Prove that a packaged title plays in real browser players: hls.js, Shaka Player and dash.js.

Three pieces, each usable on its own:

- :func:`serve` is a static HTTP server on 127.0.0.1 (a free port) for a directory of packaged
  titles. It also serves the players' dist builds from ``web/players/node_modules`` under
  ``/players/`` and a tiny harness page at :data:`HARNESS_PATH`. It sends CORS headers and the
  streaming content types players expect.
- :func:`chromium` launches the system's Debian Chromium headless through Playwright.
- :func:`play_in_browser` opens the harness page, attaches one player to a manifest URL, and
  polls the ``<video>`` element. It stops when playback passes the three checks, when the player
  reports a fatal error, or at the timeout. It always returns a :class:`PlaybackReport` and
  never raises because playback failed.

The three checks: ``currentTime`` advances past 3 s, ``videoWidth`` > 0, and more than 30 frames
are decoded (``getVideoPlaybackQuality().totalVideoFrames``).

Errors raised here::

    HarnessError         the harness itself cannot run (no Chromium, players not installed)
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self
from urllib.parse import urlencode, urlsplit

from playwright.sync_api import Browser, ConsoleMessage, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from matinee.errors import MatineeError

log = logging.getLogger(__name__)

Player = Literal["hls.js", "shaka", "dashjs"]
PLAYERS: Final[tuple[Player, ...]] = ("hls.js", "shaka", "dashjs")

# Each player's dist build, relative to node_modules, and the global it defines:
#   hls.js      -> window.Hls      (UMD)
#   shaka       -> window.shaka    (Closure-compiled bundle with every feature: DASH, HLS, MSS)
#   dashjs      -> window.dashjs   (webpack UMD of the "modern" build; legacy/ targets old browsers)
PLAYER_SCRIPTS: Final[dict[Player, str]] = {
    "hls.js": "hls.js/dist/hls.min.js",
    "shaka": "shaka-player/dist/shaka-player.compiled.js",
    "dashjs": "dashjs/dist/modern/umd/dash.all.min.js",
}

CHROMIUM_EXECUTABLE: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final[tuple[str, ...]] = (
    "--no-sandbox",  # tests run as root in containers, where the sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Muted autoplay is allowed anyway; this keeps a future unmuted check from stalling silently.
    "--autoplay-policy=no-user-gesture-required",
)

HARNESS_PATH: Final = "/__matinee__/player.html"
PLAYERS_PREFIX: Final = "/players/"

MIN_CURRENT_TIME_S: Final = 3.0
MIN_FRAMES_DECODED: Final = 30
_POLL_INTERVAL_MS: Final = 200

# This file is src/matinee/testing/players.py in a checkout (an editable install).
_REPO_ROOT: Final = Path(__file__).resolve().parents[3]


class HarnessError(MatineeError):
    """The playback harness cannot run: Chromium or the npm players are missing."""


def default_players_dir() -> Path:
    """``web/players/node_modules`` in this checkout (``scripts/test-deps.sh`` installs it)."""
    return _REPO_ROOT / "web" / "players" / "node_modules"


# --------------------------------------------------------------------------------------------
# The harness page
# --------------------------------------------------------------------------------------------

_HARNESS_HTML: Final = """<!doctype html>
<html>
<head><meta charset="utf-8"><title>matinee player harness</title></head>
<body>
<video id="video" muted autoplay playsinline width="640" height="360"></video>
<script>
"use strict";
(function () {
  const SCRIPTS = __SCRIPTS__;
  const params = new URLSearchParams(location.search);
  const player = params.get("player");
  const src = params.get("src");
  const video = document.getElementById("video");
  const state = (window.__matinee = { errors: [], warnings: [], fatal: false });

  function describe(x) {
    if (x === undefined || x === null) return String(x);
    if (typeof x === "string") return x;
    if (x instanceof Error) return x.name + ": " + x.message;
    try {
      const binary = (k, v) =>
        v instanceof ArrayBuffer || ArrayBuffer.isView(v) ? "[" + v.byteLength + " bytes]" : v;
      return JSON.stringify(x, binary).slice(0, 600);
    } catch (e) {
      return String(x);
    }
  }
  function fail(msg) { state.errors.push(String(msg)); state.fatal = true; }
  function warn(msg) { state.warnings.push(String(msg)); }

  // Uncaught exceptions and unhandled rejections reach Python through Playwright's "pageerror".
  video.addEventListener("error", () => {
    const err = video.error;
    fail("video element error" + (err ? " " + err.code + ": " + err.message : ""));
  });

  function startHls() {
    if (!Hls.isSupported()) return fail("hls.js: this browser has no MSE");
    const hls = new Hls();
    hls.on(Hls.Events.ERROR, (_event, d) => {
      const status = d.response && d.response.code ? " HTTP " + d.response.code : "";
      const url = d.url || (d.context && d.context.url) || (d.frag && d.frag.url) || "";
      const msg = "hls.js " + d.type + "/" + d.details + status + (url ? " " + url : "");
      d.fatal ? fail(msg) : warn(msg);
    });
    hls.loadSource(src);
    hls.attachMedia(video);
    window.__matinee.instance = hls;
  }

  async function startShaka() {
    shaka.polyfill.installAll();
    if (!shaka.Player.isBrowserSupported()) return fail("shaka: browser not supported");
    const p = new shaka.Player();
    window.__matinee.instance = p;
    const describeShaka = (e) =>
      "shaka error " + e.code + " (category " + e.category + ", severity " + e.severity + ") " +
      describe(e.data);
    p.addEventListener("error", (ev) => {
      const e = ev.detail;
      e.severity === shaka.util.Error.Severity.CRITICAL ? fail(describeShaka(e))
                                                        : warn(describeShaka(e));
    });
    await p.attach(video);
    try {
      await p.load(src);
    } catch (e) {
      e && e.code !== undefined ? fail(describeShaka(e)) : fail("shaka load: " + describe(e));
    }
  }

  function startDashjs() {
    const p = dashjs.MediaPlayer().create();
    window.__matinee.instance = p;
    p.on(dashjs.MediaPlayer.events.ERROR, (e) => {
      const err = e.error || e;
      fail("dash.js error " + err.code + ": " + (err.message || describe(err)));
    });
    p.initialize(video, src, true);
  }

  const starters = { "hls.js": startHls, shaka: startShaka, dashjs: startDashjs };
  if (!(player in starters)) return fail("unknown player " + player);
  if (!src) return fail("no src= manifest URL given");
  const tag = document.createElement("script");
  tag.src = SCRIPTS[player];
  tag.onerror = () => fail("could not load the player script " + tag.src);
  tag.onload = () => {
    Promise.resolve()
      .then(starters[player])
      .catch((e) => fail(player + " setup: " + describe(e)));
  };
  // The autoplay attribute starts muted playback; should it not, say why rather than stall.
  video.addEventListener("canplay", () => {
    if (video.paused) video.play().catch((e) => warn("video.play(): " + describe(e)));
  }, { once: true });
  document.head.appendChild(tag);
})();
</script>
</body>
</html>
"""


def harness_html() -> str:
    """The harness page, with each player's script URL under :data:`PLAYERS_PREFIX`."""
    scripts = {name: PLAYERS_PREFIX + path for name, path in PLAYER_SCRIPTS.items()}
    return _HARNESS_HTML.replace("__SCRIPTS__", json.dumps(scripts))


# --------------------------------------------------------------------------------------------
# Static server
# --------------------------------------------------------------------------------------------

CONTENT_TYPES: Final[dict[str, str]] = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mpd": "application/dash+xml",
    ".m4s": "video/mp4",  # audio segments too: MSE takes the type from the manifest, not here
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".m4a": "audio/mp4",
    ".ts": "video/mp2t",
    ".aac": "audio/aac",
    ".vtt": "text/vtt",
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".xml": "application/xml",
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, players_dir: Path) -> None:
        self.root = root
        self.players_dir = players_dir
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A player aborting a request it no longer needs is normal; anything else is logged.
        log.debug(
            "static server: request from %s ended with an error", client_address, exc_info=True
        )


class _Handler(SimpleHTTPRequestHandler):
    server: _Server
    extensions_map = CONTENT_TYPES

    def __init__(self, request: Any, client_address: Any, server: _Server) -> None:
        super().__init__(request, client_address, server, directory=str(server.root))

    def translate_path(self, path: str) -> str:
        url_path = urlsplit(path).path
        if url_path.startswith(PLAYERS_PREFIX):
            self.directory = str(self.server.players_dir)
            url_path = "/" + url_path.removeprefix(PLAYERS_PREFIX)
        else:
            self.directory = str(self.server.root)
        # The base class normalises the path and drops "..", so nothing escapes the directory.
        return super().translate_path(url_path)

    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Access-Control-Expose-Headers", "Content-Length, Content-Type")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        if urlsplit(self.path).path == HARNESS_PATH:
            self._send_harness(body=True)
        else:
            super().do_GET()

    def do_HEAD(self) -> None:
        if urlsplit(self.path).path == HARNESS_PATH:
            self._send_harness(body=False)
        else:
            super().do_HEAD()

    def _send_harness(self, *, body: bool) -> None:
        payload = harness_html().encode()
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPES[".html"])
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("static server: " + format, *args)


class StaticServer:
    """A running static server; use as a context manager. See :func:`serve`."""

    def __init__(self, root: Path, players_dir: Path) -> None:
        self._server = _Server(root, players_dir)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"static-server-{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` (relative to the served directory)."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def close(self) -> None:
        """Stop serving, close the listening socket and wait for the serving thread."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def serve(root: Path, *, players_dir: Path | None = None) -> StaticServer:
    """Serve ``root`` on 127.0.0.1 at a free port, with the players under ``/players/``.

    ``players_dir`` is an npm ``node_modules`` holding hls.js, shaka-player and dashjs
    (default: :func:`default_players_dir`).
    """
    players = players_dir or default_players_dir()
    missing = [p for p in PLAYER_SCRIPTS.values() if not (players / p).is_file()]
    if missing:
        raise HarnessError(
            f"the browser players are not installed in {players} (missing {', '.join(missing)});"
            " run scripts/test-deps.sh"
        )
    if not root.is_dir():
        raise HarnessError(f"cannot serve {root}: not a directory")
    return StaticServer(root.resolve(), players.resolve())


# --------------------------------------------------------------------------------------------
# Browser and playback
# --------------------------------------------------------------------------------------------


@contextmanager
def chromium(executable: Path = CHROMIUM_EXECUTABLE, *, headless: bool = True) -> Iterator[Browser]:
    """Launch the system Chromium through Playwright (never Playwright's own download)."""
    if not executable.is_file():
        raise HarnessError(f"Chromium is not installed at {executable}; run scripts/test-deps.sh")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=executable, headless=headless, args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PlaybackReport:
    """What the ``<video>`` element showed when :func:`play_in_browser` stopped polling."""

    player: Player
    manifest_url: str
    current_time: float = 0.0
    video_width: int = 0
    video_height: int = 0
    frames_decoded: int = 0
    dropped_frames: int = 0
    elapsed_s: float = 0.0
    errors: list[str] = field(default_factory=list)  # fatal: the player gave up, or the page broke
    warnings: list[str] = field(default_factory=list)  # recovered errors and console noise

    def failed_checks(self) -> list[str]:
        """The checks that did not pass, in plain words (empty when playback is proven)."""
        failed = []
        if not self.current_time > MIN_CURRENT_TIME_S:
            failed.append(
                f"currentTime {self.current_time:.2f} s did not pass {MIN_CURRENT_TIME_S:g} s"
            )
        if not self.video_width > 0:
            failed.append("videoWidth is 0: no picture was decoded")
        if not self.frames_decoded > MIN_FRAMES_DECODED:
            failed.append(
                f"only {self.frames_decoded} frames decoded (need > {MIN_FRAMES_DECODED})"
            )
        return failed

    @property
    def passed(self) -> bool:
        return not self.failed_checks()

    def summary(self) -> str:
        """One paragraph for an assertion message."""
        verdict = "played" if self.passed else "did not play: " + "; ".join(self.failed_checks())
        lines = [
            f"{self.player} {verdict} ({self.manifest_url}, {self.elapsed_s:.1f} s;"
            f" t={self.current_time:.2f} s, {self.video_width}x{self.video_height},"
            f" {self.frames_decoded} frames, {self.dropped_frames} dropped)"
        ]
        lines += [f"  error: {e}" for e in self.errors]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


_SNAPSHOT_JS: Final = """() => {
  const v = document.getElementById("video");
  const s = window.__matinee || { errors: [], warnings: [], fatal: false };
  const q = v && v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : null;
  return {
    currentTime: v ? v.currentTime : 0,
    width: v ? v.videoWidth : 0,
    height: v ? v.videoHeight : 0,
    frames: q ? q.totalVideoFrames : 0,
    dropped: q ? q.droppedVideoFrames : 0,
    errors: s.errors.slice(),
    warnings: s.warnings.slice(),
    fatal: s.fatal,
  };
}"""


def harness_url(server_base_url: str, player: Player, manifest_url: str) -> str:
    """The harness page URL that plays ``manifest_url`` with ``player``."""
    query = urlencode({"player": player, "src": manifest_url})
    return f"{server_base_url.rstrip('/')}{HARNESS_PATH}?{query}"


def play_in_browser(
    browser: Browser,
    server_base_url: str,
    player: Player,
    manifest_url: str,
    *,
    timeout_s: float = 30.0,
    stop_on_fatal: bool = True,
) -> PlaybackReport:
    """Play ``manifest_url`` with ``player`` in a fresh browser context and report what happened.

    ``server_base_url`` is a :class:`StaticServer`'s base URL (it serves the harness page and
    the players); the manifest may live on any origin that sends CORS headers. Polling stops as
    soon as the checks pass, when the player reports a fatal error (unless ``stop_on_fatal`` is
    false), or after ``timeout_s``.
    """
    report = PlaybackReport(player=player, manifest_url=manifest_url)
    started = time.monotonic()
    deadline = started + timeout_s
    context = browser.new_context()
    try:
        page = context.new_page()
        uncaught: list[str] = []
        page.on("pageerror", lambda exc: uncaught.append(f"uncaught in page: {exc}"))
        page_warnings: list[str] = []

        def on_console(msg: ConsoleMessage) -> None:
            if msg.type == "error":
                page_warnings.append(f"console: {msg.text}")

        page.on("console", on_console)
        try:
            page.goto(
                harness_url(server_base_url, player, manifest_url),
                timeout=max(1.0, deadline - time.monotonic()) * 1000,
            )
            while True:
                snapshot = page.evaluate(_SNAPSHOT_JS)
                _update(report, snapshot)
                if report.passed or (stop_on_fatal and snapshot["fatal"]):
                    break
                remaining_ms = (deadline - time.monotonic()) * 1000
                if remaining_ms <= 0:
                    break
                page.wait_for_timeout(min(_POLL_INTERVAL_MS, remaining_ms))
        except PlaywrightError as exc:
            report.errors.append(f"browser: {exc.message}")
        report.errors = uncaught + report.errors
        report.warnings += page_warnings
    finally:
        context.close()
    report.elapsed_s = time.monotonic() - started
    if not report.passed and not report.errors:
        report.errors.append(f"timed out after {timeout_s:g} s with no error from the player")
    log.info("%s", report.summary())
    return report


def _update(report: PlaybackReport, snapshot: dict[str, Any]) -> None:
    report.current_time = float(snapshot["currentTime"])
    report.video_width = int(snapshot["width"])
    report.video_height = int(snapshot["height"])
    report.frames_decoded = int(snapshot["frames"])
    report.dropped_frames = int(snapshot["dropped"])
    report.errors = [str(e) for e in snapshot["errors"]]
    report.warnings = [str(w) for w in snapshot["warnings"]]
