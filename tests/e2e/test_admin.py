"""The admin console in Chromium: a master uploaded from the browser (tus) becomes a job, then an
asset, then a published title a member plays; and every page shows the running platform."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from matinee.media.samples import AudioSpec, SampleSpec, make_sample

from .pages import choose_profile, press_play, sign_in, wait_for_playback
from .stack import ADMIN, MEMBER, Stack

pytestmark = pytest.mark.slow

JOB_TIMEOUT_MS = 180_000  # a 6 s master on two busy cores
LIVE_TIMEOUT_MS = 30_000  # the telemetry store samples every 10 s


def admin_sign_in(page: Page) -> None:
    """Sign in on the console's own form (at /admin); waits for its navigation."""
    page.goto("/admin")
    form = page.get_by_test_id("signin-form")
    form.locator("[name=email]").fill(ADMIN.email)
    form.locator("[name=password]").fill(ADMIN.password)
    form.get_by_test_id("signin-submit").click()
    expect(page.get_by_test_id("admin-nav")).to_be_visible()


def test_upload_then_job_then_publish_then_play(
    stack: Stack, open_page: Callable[[], Page], tmp_path: Path
) -> None:
    master = make_sample(
        tmp_path / "uploaded-master.mp4",
        SampleSpec(pattern="testsrc", width=320, height=180, seconds=6, audio=(AudioSpec(),)),
    )
    name = f"Uploaded {uuid.uuid4().hex[:6]}"
    admin = open_page()
    admin_sign_in(admin)
    admin.get_by_test_id("admin-nav").get_by_role("link", name="Upload").click()

    form = admin.get_by_test_id("upload-form")
    form.locator("input[name=file]").set_input_files(master)
    form.locator("[name=title]").fill(name)
    form.locator("[name=countries]").fill("US")
    form.get_by_test_id("upload-submit").click()

    expect(admin.get_by_test_id("upload-progress")).to_have_attribute("data-progress", "1.0000")
    job = admin.get_by_test_id("upload-job")
    expect(job).to_have_attribute("data-job-id", re.compile(r"\S+"), timeout=60_000)
    job_id = job.get_attribute("data-job-id")
    expect(job).to_have_attribute("data-state", "succeeded", timeout=JOB_TIMEOUT_MS)

    admin.goto(f"/admin/jobs/{job_id}")
    detail = admin.get_by_test_id("job-detail")
    tasks = detail.get_by_test_id("task-row")
    expect(tasks.first).to_be_visible()
    assert tasks.count() >= 4  # probe, encode, package, thumbnails, vmaf...
    expect(detail.locator('[data-testid="task-row"]:not([data-state="done"])')).to_have_count(0)
    detail.get_by_test_id("link-asset").click()
    expect(detail.get_by_test_id("link-asset")).to_have_count(0)  # shown until it is linked
    expect(detail.get_by_test_id("error-banner")).to_have_count(0)

    detail.get_by_role("link", name=name).first.click()
    expect(admin).to_have_url(re.compile(r"/admin/titles/[^/]+$"))
    title_id = admin.url.rsplit("/", 1)[1]
    admin.get_by_test_id("publish-button").click()
    expect(admin.get_by_test_id("unpublish-button")).to_be_visible()

    viewer = open_page()
    sign_in(viewer, MEMBER)
    choose_profile(viewer, "Alex")
    press_play(viewer, title_id)
    wait_for_playback(viewer, 2.0)


def test_admin_pages_show_the_running_platform(stack: Stack, page: Page) -> None:
    admin_sign_in(page)
    nav = page.get_by_test_id("admin-nav")

    nav.get_by_role("link", name="Jobs").click()
    succeeded = page.locator('[data-testid="job-row"][data-state="succeeded"]')
    expect(succeeded.first).to_be_visible()
    assert succeeded.count() >= 4  # the session's samples

    asset = next(a for a in stack.platform.assets.all() if a.title == "Mandelbrot")
    page.goto(f"/admin/assets/{asset.id}")
    renditions = page.get_by_test_id("asset-detail").get_by_test_id("rendition-row")
    expect(renditions).to_have_count(len([t for t in asset.tracks if t.kind == "video"]))
    vmaf = renditions.first.locator('[data-field="vmaf"]')
    expect(vmaf).to_have_text(re.compile(r"^\d+(\.\d)?$"))
    expect(renditions.first.locator('[data-field="average_bps"]')).to_contain_text(
        re.compile(r"\d")
    )

    nav.get_by_role("link", name="Titles").click()
    expect(page.get_by_test_id("title-row").filter(has_text="Mandelbrot").first).to_be_visible()

    nav.get_by_role("link", name="CDN").click()
    edge = page.get_by_test_id("cdn-view").locator('[data-testid="edge-row"][data-edge="edge-0"]')
    expect(edge).to_have_attribute("data-health", "healthy")

    nav.get_by_role("link", name="Services").click()
    view = page.get_by_test_id("services-view")
    for app in ("gateway", "catalog", "playback", "media", "web", "edge"):
        expect(view.locator(f'[data-testid="instance-row"][data-app="{app}"]')).to_have_count(1)
    expect(view.get_by_test_id("breaker-row").first).to_be_visible()
    expect(view.locator('[data-testid="registry-row"][data-up="true"]')).to_have_count(1)

    nav.get_by_role("link", name="Metrics").click()
    graphs = page.get_by_test_id("metric-graph")
    expect(graphs.first).to_be_visible()
    drawn = page.locator('[data-testid="metric-graph"]:not([data-points="0"])')
    expect(drawn.first).to_be_visible(timeout=LIVE_TIMEOUT_MS)
