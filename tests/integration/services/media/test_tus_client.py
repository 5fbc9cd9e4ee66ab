"""The real tus-js-client (4.3.1, under Node) uploads a master through the gateway of a served
monolith: the network drops mid-chunk and the client resumes by itself; the tab "closes"
after five chunks and a new client resumes from the server's offset; the last byte submits
the ingest job, the jobs API follows it to the end, and the asset appears with its VMAF,
bitrates and thumbnails."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest

from matinee.jobs.models import JobState
from matinee.media.samples import SampleSpec, make_sample
from matinee.testing.pipeline import MakePlatform

from .stack import TUS, Cutter, add_admin, served, session, tus_client

pytestmark = pytest.mark.slow  # ingests a (tiny) master through the real pipeline

CHUNK = 16 * 1024
FORM = {"filename": "clip.mp4", "title": "Uploaded clip", "title_id": "title-42"}


def wait_for(client: httpx.Client, path: str, done: Any, timeout: float = 240) -> dict[str, Any]:
    """GET ``path`` (JSON) every half second until ``done(body)``; the last body."""
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get(path)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        if done(body):
            return body
        assert time.monotonic() < deadline, f"{path} never got there: {body}"
        time.sleep(0.5)


def interrupted_upload(port: int, master: Path, cookie: dict[str, str]) -> str:
    """tus-js-client through a network that drops the third chunk's connection, then a
    "closed tab" after five chunks; the upload's path."""
    # The POST and two PATCHes, with their headers, are about 34 KB before the cut.
    with Cutter(port, cut_after=40_000) as cutter:
        first = tus_client(
            {
                "endpoint": f"http://127.0.0.1:{cutter.port}/api/media/uploads",
                "file": str(master),
                "headers": cookie,
                "chunkSize": CHUNK,
                "metadata": FORM,
                "stopAfterChunks": 5,
            }
        )
    assert first["version"] == "4.3.1"
    assert first["error"] is None, first
    assert cutter.cuts == 1
    assert [r["status"] for r in first["retries"]] == [0]  # the network error, retried
    assert first["accepted"] == [CHUNK * n for n in range(1, 6)]
    assert (first["aborted"], first["done"]) == (True, False)
    return "/api/media/uploads/" + str(first["url"]).rsplit("/", 1)[1]


def resumed_upload(base: str, path: str, master: Path, cookie: dict[str, str]) -> None:
    """A new client (a reloaded page) picks the upload up where the server has it."""
    with httpx.Client(base_url=base, headers=cookie, timeout=30) as client:
        head = client.head(path, headers=TUS)
    assert (head.status_code, head.headers["upload-offset"]) == (200, str(5 * CHUNK))
    assert head.headers["upload-length"] == str(master.stat().st_size)
    assert httpx.head(base + path, headers=TUS).status_code == 401  # anonymous
    second = tus_client(
        {
            "endpoint": f"{base}/api/media/uploads",
            "uploadUrl": f"{base}{path}",
            "file": str(master),
            "headers": cookie,
            "chunkSize": CHUNK,
            "metadata": FORM,
        }
    )
    assert second["error"] is None, second
    assert (second["done"], second["startedAt"]) == (True, 5 * CHUNK)
    assert second["accepted"][-1] == master.stat().st_size
    assert second["retries"] == []


def followed_job(client: httpx.Client, upload_id: str, size: int) -> None:
    """The console's view of the job: polled until it ends, progress never going back."""
    progress: list[float] = []

    def ended(job: dict[str, Any]) -> bool:
        progress.append(job["progress"])
        return job["state"] in ("succeeded", "failed")

    job = wait_for(client, f"/api/media/jobs/{upload_id}", ended)
    assert job["state"] == "succeeded", job["error"]
    assert (job["progress"], job["asset_id"]) == (1.0, upload_id)
    assert progress == sorted(progress)
    assert job["metadata"] == {
        **FORM,
        "upload_id": upload_id,
        "uploaded_by": job["metadata"]["uploaded_by"],
        "size": size,
    }
    assert {t["state"] for t in job["tasks"]} == {"done"}
    assert {t["stage"] for t in job["tasks"]} == {
        "probe",
        "split",
        "analyze",
        "encode",
        "stitch",
        "finish",
        "qc",
    }
    listed = client.get("/api/media/jobs", params={"limit": 5}).json()
    assert [j["id"] for j in listed["items"]] == [upload_id]


def published_asset(client: httpx.Client, asset_id: str) -> None:
    asset = client.get(f"/api/assets/{asset_id}").json()
    assert (asset["title"], asset["duration"]) == ("Uploaded clip", pytest.approx(2.0, abs=0.1))
    video = [t for t in asset["tracks"] if t["kind"] == "video"]
    assert video
    for track in video:
        assert 0 < track["vmaf_min"] <= track["vmaf"] <= 100
        assert 0 < track["average_bps"] <= track["peak_bps"]
    assert asset["thumbnails"]["sprites"]
    for url in (asset["poster"], asset["thumbnails"]["trickplay"]):
        assert client.get(url).status_code == 200
    sprite = client.get(asset["thumbnails"]["sprites"][0])
    assert sprite.content[:3] == b"\xff\xd8\xff"  # a JPEG


def test_tus_js_client_resumes_and_the_upload_becomes_an_asset(
    make_platform: MakePlatform, tmp_path: Path
) -> None:
    platform = make_platform()
    add_admin(platform)
    master = make_sample(
        tmp_path / "clip.mp4", SampleSpec(width=320, height=180, fps=Fraction(25), seconds=2.0)
    )
    assert master.stat().st_size > 6 * CHUNK
    with served(platform) as base:
        cookie = {"Cookie": f"matinee_session={session(base)}"}
        path = interrupted_upload(int(base.rsplit(":", 1)[1]), master, cookie)
        upload_id = path.rsplit("/", 1)[1]
        resumed_upload(base, path, master, cookie)
        with httpx.Client(base_url=base, headers=cookie, timeout=30) as client:
            status = wait_for(client, path, lambda s: s["state"] == "submitted", timeout=60)
            assert (status["job_id"], status["metadata"]) == (upload_id, FORM)
            stored = platform.jobs.get(upload_id).params["master_key"]
            assert platform.objects.read_bytes(stored) == master.read_bytes()
            followed_job(client, upload_id, master.stat().st_size)
            published_asset(client, upload_id)
    assert platform.jobs.get(upload_id).state is JobState.SUCCEEDED
