"""The page `make run` serves: it lists ingested titles and plays one in Shaka Player."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest
import uvicorn

from matinee.jobs.models import JobState
from matinee.media.samples import SampleSpec, make_sample
from matinee.platform import Platform
from matinee.runtime.monolith import Monolith
from matinee.testing.pipeline import MakePlatform, ingest
from matinee.testing.players import chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(make_platform: MakePlatform, tmp_path: Path) -> Iterator[tuple[Platform, str]]:
    platform = make_platform()
    master = make_sample(tmp_path / "clip.mp4", SampleSpec(seconds=8, fps=Fraction(25)))
    _, state = ingest(platform, master, "Clip")
    assert state is JobState.SUCCEEDED
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Monolith(platform.settings, platform=platform),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield platform, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_page_lists_and_plays_a_title(served: tuple[Platform, str]) -> None:
    _, base = served
    with chromium() as browser:
        page = browser.new_page()
        page.goto(base + "/")
        card = page.locator(".card").first
        card.wait_for(timeout=10_000)
        assert "Clip" in card.inner_text()
        assert page.locator(".card img").first.evaluate("img => img.naturalWidth") > 0
        card.click()
        page.wait_for_function(
            "() => { const v = document.querySelector('video');"
            " return v && v.currentTime > 2 && v.videoWidth > 0; }",
            timeout=20_000,
        )
        assert page.locator("#error").inner_text() == ""
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "demo-page.png"))
