"""Fixtures for the browser tests: the built web app, one running platform per session (samples
ingested, demo household and catalog seeded, monolith and a CDN edge served), headless Debian
Chromium, and pages that leave a screenshot and a console log under test-artifacts/e2e/ when the
test ends, passed or failed.

The web app must be built (``make app``; ``make test`` does it before pytest). When it is
missing or older than its sources, it is built here with the same command, and a failing build
fails the tests with its own words. ``MATINEE_E2E_KEEP_DIST=1`` uses web/app/dist as it is
(while the app's sources are being edited and do not build).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, ViewportSize, expect

from matinee.testing.players import chromium
from matinee.testing.servers import pick_port

from .stack import LADDER_TITLE, Stack, running_stack

REPO: Final = Path(__file__).resolve().parents[2]
ARTIFACTS: Final = REPO / "test-artifacts" / "e2e"
APP_DIST: Final = REPO / "web" / "app" / "dist"
APP_FILES: Final = ("index.html", "admin.html", "viewer.js", "admin.js", "app.css")
SERVER_PORTS: Final = (16350, 16399)
VIEWPORT: Final = ViewportSize(width=1280, height=800)
DEFAULT_TIMEOUT_MS: Final = 15_000
BUILD_HINT: Final = (
    "The web app is not built: run `make app` (or `cd web/app && npm ci && npm run build`)."
)

OpenPage = Callable[[], Page]


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args],  # noqa: S607 - make from PATH, as `make test`
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="package")
def app_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of web/app/dist, built and up to date with its sources (`make app` when it is
    not), that a rebuild while the tests run cannot take away."""
    keep = os.environ.get("MATINEE_E2E_KEEP_DIST") == "1"
    if not keep and _make("-q", "app").returncode != 0:
        built = _make("app")
        if built.returncode != 0:
            pytest.fail(
                f"{BUILD_HINT}\n`make app` failed:\n{built.stdout[-3000:]}{built.stderr[-3000:]}",
                pytrace=False,
            )
    missing = [name for name in APP_FILES if not (APP_DIST / name).is_file()]
    if missing:
        pytest.fail(f"{BUILD_HINT} ({', '.join(missing)} missing from {APP_DIST})", pytrace=False)
    copy = tmp_path_factory.mktemp("web") / "dist"
    shutil.copytree(APP_DIST, copy, ignore=shutil.ignore_patterns("*.map"))
    return copy


def _needs_ladder(session: pytest.Session) -> bool:
    return any("ladder_title" in getattr(item, "fixturenames", ()) for item in session.items)


@pytest.fixture(scope="package")
def stack(
    app_dist: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    """The platform for the browser tests; the ladder title is ingested only when a selected
    test asks for it (the ``ladder_title`` fixture)."""
    data_dir = tmp_path_factory.mktemp("e2e") / "data"
    with running_stack(
        data_dir,
        pick_port(*SERVER_PORTS),
        web_dist=app_dist,
        with_ladder=_needs_ladder(request.session),
    ) as running:
        yield running


@pytest.fixture(scope="package")
def ladder_title(stack: Stack) -> str:
    """The catalog id of the 48 s title with four renditions (144p to 480p)."""
    return stack.title_id(LADDER_TITLE)


# Package scope, not session: Playwright's sync API keeps an event loop running in the main
# thread while it is open, so the browser (and the platform's server thread) must be gone before
# the rest of the suite calls asyncio.run().
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    with chromium() as launched:
        yield launched


def _artifact_name(node_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", node_name).strip("-")


@pytest.fixture
def open_page(browser: Browser, stack: Stack, request: pytest.FixtureRequest) -> Iterator[OpenPage]:
    """Opens pages, each in a browser context of its own (another device: its own cookies and
    storage), on the stack's URL. At the end every page is screenshotted to
    test-artifacts/e2e/<test>[-n].png, with its console and page errors in a .log beside it;
    an uncaught error in a page's scripts fails the test."""
    opened: list[tuple[Page, list[str]]] = []

    def open_one() -> Page:
        context = browser.new_context(base_url=stack.base_url, viewport=VIEWPORT)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        page = context.new_page()
        log: list[str] = []

        def on_console(message: ConsoleMessage) -> None:
            log.append(f"console.{message.type}: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: log.append(f"pageerror: {exc}"))
        page.on(
            "requestfailed",
            lambda req: log.append(f"requestfailed: {req.method} {req.url} {req.failure}"),
        )
        opened.append((page, log))
        return page

    yield open_one
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base = _artifact_name(request.node.name)
    for n, (page, log) in enumerate(opened, start=1):
        name = base if n == 1 else f"{base}-{n}"
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
        except Exception as exc:  # noqa: BLE001 - a broken page still gets its log written
            log.append(f"screenshot failed: {exc}")
        (ARTIFACTS / f"{name}.log").write_text(f"final url: {page.url}\n" + "\n".join(log) + "\n")
        page.context.close()
    uncaught = [line for _, log in opened for line in log if line.startswith("pageerror:")]
    if uncaught:
        pytest.fail("uncaught errors in the page:\n" + "\n".join(uncaught), pytrace=False)


@pytest.fixture
def page(open_page: OpenPage) -> Page:
    """A page on the stack, in a fresh browser context."""
    return open_page()
