"""The jobs API (recent jobs, one job with per-task progress, administrators only) and the
enriched asset (VMAF and bitrates per rendition, thumbnails), in a monolith."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from matinee.jobs.models import JobState
from matinee.jobs.store import NewTask
from matinee.platform import Platform
from matinee.testing.assets import sample_asset

from .world import World, run

FORM = {"filename": "bunny.mov", "title": "Bunny", "title_id": None}


def record(platform: Platform, title: str, *, metadata: dict[str, Any] | None = None) -> str:
    job_id = str(uuid.uuid4())
    platform.record_ingest(
        job_id, f"masters/{job_id}/source.mov", "bunny.mov", title, metadata=metadata
    )
    return job_id


def test_a_job_shows_each_task_and_the_weighted_progress(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        jobs = world.platform.jobs
        job_id = record(world.platform, "Bunny", metadata=FORM)
        jobs.set_state(job_id, JobState.RUNNING, stage="encode")
        jobs.ensure_tasks(job_id, "probe", [NewTask("probe", "probe", {})])
        jobs.ensure_tasks(
            job_id, "encode", [NewTask(f"encode-{n}", "encode", {}) for n in range(2)]
        )
        probe, first, second = jobs.tasks(job_id)
        for task in (probe, first, second):
            jobs.start_task(task.id)
        jobs.finish_task(probe.id, {})
        jobs.set_progress(first.id, 0.5)
        jobs.fail_task(second.id, "ffmpeg stopped: disk full", retry=True)
        jobs.start_task(second.id)

        answer = await world.admin.get(f"/api/media/jobs/{job_id}")
        assert answer.status_code == 200, answer.text
        job = answer.json()
        # probe 0.01 done + encode 0.50 x the mean of 0.5 and 0: 0.01 + 0.125
        assert job["progress"] == 0.135
        assert {k: job[k] for k in ("id", "kind", "title", "state", "stage", "error")} == {
            "id": job_id,
            "kind": "ingest",
            "title": "Bunny",
            "state": "running",
            "stage": "encode",
            "error": None,
        }
        assert (job["asset_id"], job["finished_at"], job["metadata"]) == (None, None, FORM)
        assert job["tasks"] == [
            {
                "name": "probe",
                "kind": "probe",
                "stage": "probe",
                "state": "done",
                "progress": 1.0,
                "attempts": 1,
                "error": None,
            },
            {
                "name": "encode-0",
                "kind": "encode",
                "stage": "encode",
                "state": "running",
                "progress": 0.5,
                "attempts": 1,
                "error": None,
            },
            {
                "name": "encode-1",
                "kind": "encode",
                "stage": "encode",
                "state": "running",
                "progress": 0.0,
                "attempts": 2,
                "error": None,
            },
        ]

        # Published while its quality is still being scored: the asset is there already.
        jobs.mark_published(job_id)
        jobs.set_state(job_id, JobState.RUNNING, stage="qc")
        scoring = (await world.admin.get(f"/api/media/jobs/{job_id}")).json()
        assert (scoring["state"], scoring["asset_id"]) == ("running", job_id)

        jobs.set_state(job_id, JobState.SUCCEEDED)
        done = (await world.admin.get(f"/api/media/jobs/{job_id}")).json()
        assert (done["state"], done["progress"], done["asset_id"]) == ("succeeded", 1.0, job_id)
        assert done["finished_at"] is not None

        failed_id = record(world.platform, "Broken")  # from the command line: no metadata
        jobs.set_state(failed_id, JobState.FAILED, error="The master has no video stream.")
        failed = (await world.admin.get(f"/api/media/jobs/{failed_id}")).json()
        assert (failed["error"], failed["asset_id"], failed["metadata"]) == (
            "The master has no video stream.",
            None,
            {},
        )
        missing = await world.admin.get("/api/media/jobs/no-such-job")
        assert (missing.status_code, missing.json()["error"]) == (404, "job_not_found")

    run(tmp_path, body)


def test_recent_jobs_page_newest_first(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        ids = [record(world.platform, f"Title {n}") for n in range(5)]
        seen: list[str] = []
        cursor: str | None = None
        for _ in range(3):
            params: dict[str, str | int] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            page = (await world.admin.get("/api/media/jobs", params=params)).json()
            seen += [j["id"] for j in page["items"]]
            cursor = page["next_cursor"]
        assert seen == ids[::-1]
        assert cursor is None
        default = (await world.admin.get("/api/media/jobs")).json()
        assert [j["title"] for j in default["items"]] == [f"Title {n}" for n in range(4, -1, -1)]
        assert default["next_cursor"] is None

        bad = await world.admin.get("/api/media/jobs", params={"cursor": "bm9wZQ"})
        assert (bad.status_code, bad.json()["error"]) == (400, "invalid_cursor")
        assert "start again without it" in bad.json()["message"]
        for limit in (0, 101):
            wrong = await world.admin.get("/api/media/jobs", params={"limit": limit})
            assert wrong.status_code == 422
            assert "limit" in wrong.json()["message"]
        assert (await world.member.get("/api/media/jobs")).status_code == 403
        assert (await world.anon.get(f"/api/media/jobs/{ids[0]}")).status_code == 401
        assert (await world.front.get("/api/media/jobs")).status_code == 401

    run(tmp_path, body)


def test_an_asset_shows_quality_bitrates_and_thumbnails(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        asset = sample_asset("Bunny")
        asset.trickplay_key = f"{asset.prefix}/trickplay/thumbs.vtt"
        low, high, audio = asset.tracks
        low.vmaf_mean, low.vmaf_min, low.average_bps, low.peak_bps = 81.5, 62.0, 400_000, 700_000
        high.vmaf_mean, high.vmaf_min, high.average_bps, high.peak_bps = (
            95.2,
            88.1,
            2_900_000,
            4_000_000,
        )
        audio.average_bps, audio.peak_bps = 128_000, 130_000
        keys = ["id", "title", "duration", "width", "height", "prefix"]
        keys += ["hls_key", "dash_key", "poster_key", "trickplay_key"]
        expected = {k: getattr(asset, k) for k in keys}
        world.platform.assets.add(asset)
        for name in ("sprite_0002.jpg", "sprite_0001.jpg", "thumbs.vtt", "deeper/x.jpg"):
            world.platform.objects.put_bytes(f"{asset.prefix}/trickplay/{name}", b"x")

        answer = await world.anon.get(f"/api/assets/{expected['id']}")  # public, as before
        assert answer.status_code == 200, answer.text
        got = answer.json()
        media = f"/media/{expected['prefix']}"
        assert {k: got[k] for k in keys} == expected  # what catalog and playback read
        assert (got["hls"], got["dash"]) == (f"{media}/master.m3u8", f"{media}/manifest.mpd")
        assert got["poster"] == f"{media}/poster.jpg"
        assert got["thumbnails"] == {
            "poster": f"{media}/poster.jpg",
            "trickplay": f"{media}/trickplay/thumbs.vtt",
            "sprites": [f"{media}/trickplay/sprite_0001.jpg", f"{media}/trickplay/sprite_0002.jpg"],
        }
        video = [t for t in got["tracks"] if t["kind"] == "video"]
        assert [
            (t["name"], t["vmaf"], t["vmaf_min"], t["average_bps"], t["peak_bps"]) for t in video
        ] == [
            ("video_360p", 81.5, 62.0, 400_000, 700_000),
            ("video_720p", 95.2, 88.1, 2_900_000, 4_000_000),
        ]
        (sound,) = [t for t in got["tracks"] if t["kind"] == "audio"]
        assert (sound["language"], sound["vmaf"], sound["average_bps"]) == ("eng", None, 128_000)

        bare = sample_asset("No thumbnails")
        bare.poster_key, bare_id = None, bare.id
        world.platform.assets.add(bare)
        plain = (await world.admin.get(f"/api/assets/{bare_id}")).json()
        assert plain["poster"] is None
        assert plain["thumbnails"] == {"poster": None, "trickplay": None, "sprites": []}
        assert (await world.admin.get("/api/assets/nope")).status_code == 404

    run(tmp_path, body)
