"""An upload in the object store, not in an instance: 8 MiB chunks through the real gateway
of two monoliths on one database and object store (two media instances), one of them
restarted halfway; the last chunk submits the job, and a master that is no video fails the
job with the pipeline's plain words (never the upload, never a 500)."""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from matinee.platform import Platform
from matinee.services.media.tus import encode_metadata
from matinee.settings import Settings

from .stack import TUS, add_admin, served, session

CHUNK = 8 * 1024 * 1024
OCTETS = {**TUS, "Content-Type": "application/offset+octet-stream"}


def patch(client: httpx.Client, path: str, offset: int, body: bytes) -> httpx.Response:
    return client.patch(path, content=body, headers={**OCTETS, "Upload-Offset": str(offset)})


def test_an_upload_moves_between_instances_and_outlives_a_restart(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", workers=1)
    add_admin(Platform(settings))
    data = os.urandom(2 * CHUNK + 12345)
    meta = encode_metadata({"filename": "noise.mov", "title": "Noise"})
    with ExitStack() as stack:
        first = stack.enter_context(served(Platform(settings, migrate=False)))
        auth = {"Authorization": f"Bearer {session(first)}"}
        a = stack.enter_context(httpx.Client(base_url=first, headers=auth, timeout=60))
        created = a.post(
            "/api/media/uploads",
            headers={**TUS, "Upload-Length": str(len(data)), "Upload-Metadata": meta},
        )
        assert created.status_code == 201, created.text
        path = created.headers["location"]
        answer = patch(a, path, 0, data[:CHUNK])
        assert (answer.status_code, answer.headers["upload-offset"]) == (204, str(CHUNK))

        with (
            served(Platform(settings, migrate=False)) as second,
            httpx.Client(base_url=second, headers=auth, timeout=60) as b,
        ):
            assert b.head(path, headers=TUS).headers["upload-offset"] == str(CHUNK)
            answer = patch(b, path, CHUNK, data[CHUNK : 2 * CHUNK])
            assert answer.headers["upload-offset"] == str(2 * CHUNK)
            stale = patch(a, path, CHUNK, data[CHUNK : 2 * CHUNK])  # the first one is behind
            assert stale.status_code == 409, stale.text
            assert f"holds {2 * CHUNK} bytes" in stale.json()["message"]
        stack.close()  # both instances stop

    with (
        served(Platform(settings, migrate=False)) as again,
        httpx.Client(base_url=again, headers=auth, timeout=60) as c,
    ):
        assert c.head(path, headers=TUS).headers["upload-offset"] == str(2 * CHUNK)
        too_big = patch(c, path, 2 * CHUNK, data[2 * CHUNK :] + b"x")
        assert too_big.status_code == 413, too_big.text
        answer = patch(c, path, 2 * CHUNK, data[2 * CHUNK :])
        assert (answer.status_code, answer.headers["upload-offset"]) == (204, str(len(data)))

        deadline = time.monotonic() + 120
        while True:
            job = c.get(f"/api/media/jobs/{path.rsplit('/', 1)[1]}")
            if job.status_code == 200 and job.json()["state"] == "failed":
                break
            assert job.status_code in (200, 404), job.text
            assert time.monotonic() < deadline, job.text
            time.sleep(0.5)
        failed = job.json()
        assert failed["metadata"]["size"] == len(data)
        assert "not a video file" in failed["error"], failed["error"]
        assert "Traceback" not in failed["error"]
        status = c.get(path).json()
        assert (status["state"], status["offset"]) == ("submitted", len(data))
    platform = Platform(settings, migrate=False)
    master = platform.jobs.get(status["job_id"]).params["master_key"]
    assert platform.objects.read_bytes(master) == data
    assert list(platform.objects.list(f"uploads/{status['id']}/parts/")) == []
