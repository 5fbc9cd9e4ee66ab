"""The tus server (``/api/media/uploads``) in a monolith: discovery, creation, offsets, appends,
every refusal with its status and plain words, termination, and the job a finished upload
becomes (recorded here, not run)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest

from matinee.clock import SystemClock
from matinee.jobs.models import JobState
from matinee.services.media.upload_store import DEFAULT_TTL_S, UPLOADS, UploadInfo, UploadStore

from .world import MAX_UPLOAD, OCTETS, PREFIX, TUS, World, run

MASTER = bytes(range(256)) * 40  # 10240 bytes


def refused(answer: httpx.Response, status: int, code: str, words: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"] == code, body
    assert words in body["message"], body["message"]
    assert answer.headers["tus-resumable"] == "1.0.0"


async def submitted(world: World, path: str) -> dict[str, object]:
    for _ in range(200):
        status = (await world.admin.get(path)).json()
        if status["state"] == "submitted":
            return dict(status)
        await asyncio.sleep(0.02)
    raise AssertionError(f"the upload was never submitted: {status}")


def test_options_tells_what_the_server_speaks(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        for client, path in ((world.anon, PREFIX), (world.front, PREFIX + "/x")):
            answer = await client.options(path)
            assert answer.status_code == 204
            assert answer.headers["tus-version"] == "1.0.0"
            assert answer.headers["tus-resumable"] == "1.0.0"
            assert answer.headers["tus-extension"] == "creation,termination,expiration"
            assert answer.headers["tus-max-size"] == str(MAX_UPLOAD)

    run(tmp_path, body)


def test_an_upload_in_three_patches_becomes_a_job(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        form = {"filename": "Big Buck.MOV", "title": "Big Buck Bunny", "title_id": "title-7"}
        path = await world.create(len(MASTER), form)
        upload_id = path.rsplit("/", 1)[1]
        head = await world.admin.head(path, headers=TUS)
        assert head.status_code == 200
        assert (head.headers["upload-offset"], head.headers["upload-length"]) == ("0", "10240")
        assert head.headers["cache-control"] == "no-store"
        assert "title QmlnIEJ1Y2sgQnVubnk=" in head.headers["upload-metadata"]

        for start, end in ((0, 4000), (4000, 9000)):
            answer = await world.patch(path, start, MASTER[start:end])
            assert answer.status_code == 204, answer.text
            assert answer.headers["upload-offset"] == str(end)
            assert answer.headers["tus-resumable"] == "1.0.0"
        status = (await world.admin.get(path)).json()
        assert (status["state"], status["offset"], status["job_id"]) == ("uploading", 9000, None)
        assert status["metadata"] == form

        last = await world.patch(path, 9000, MASTER[9000:])
        assert last.headers["upload-offset"] == "10240"
        status = await submitted(world, path)
        assert (status["job_id"], status["offset"]) == (upload_id, 10240)

        job = world.platform.jobs.get(upload_id)
        assert (job.kind, job.title, job.state) == ("ingest", "Big Buck Bunny", JobState.QUEUED)
        assert job.params["master_key"] == f"masters/{upload_id}/source.mov"
        assert job.params["master_name"] == "Big Buck.MOV"
        assert job.params["metadata"] == {
            **form,
            "upload_id": upload_id,
            "uploaded_by": "admin-1",
            "size": 10240,
        }
        assert world.platform.objects.read_bytes(job.params["master_key"]) == MASTER
        assert list(world.platform.objects.list(f"{UPLOADS}/{upload_id}/parts/")) == []
        # Parts are gone, but the upload still answers as complete.
        head = await world.admin.head(path, headers=TUS)
        assert head.headers["upload-offset"] == "10240"
        again = await world.patch(path, 10240, b"")
        assert again.status_code == 204
        assert again.headers["upload-offset"] == "10240"

    run(tmp_path, body)


def test_refusals_name_what_is_wrong(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        path = await world.create(100)
        await world.patch(path, 0, b"x" * 10)

        refused(await world.patch(path, 0, b"y"), 409, "offset_mismatch", "holds 10 bytes")
        refused(await world.patch(path, 50, b"y"), 409, "offset_mismatch", "ask with HEAD")
        refused(
            await world.patch(path, 10, b"z" * 91),
            413,
            "upload_too_large",
            "past its Upload-Length",
        )
        no_type = await world.admin.patch(
            path, content=b"a", headers={**TUS, "Upload-Offset": "10"}
        )
        refused(no_type, 415, "unsupported_content_type", "application/offset+octet-stream")
        no_offset = await world.admin.patch(path, content=b"a", headers=OCTETS)
        refused(no_offset, 400, "invalid_upload_request", "Upload-Offset header is missing")
        odd = await world.admin.patch(path, content=b"a", headers={**OCTETS, "Upload-Offset": "x"})
        refused(odd, 400, "invalid_upload_request", "whole number of bytes")
        no_version = await world.admin.head(path)
        assert no_version.status_code == 400
        old = await world.admin.head(path, headers={"Tus-Resumable": "0.2.2"})
        assert (old.status_code, old.headers["tus-version"]) == (412, "1.0.0")

        create = {**TUS, "Upload-Metadata": "title eA=="}
        missing = await world.admin.post(PREFIX, headers=create)
        refused(missing, 400, "invalid_upload_request", "Upload-Length header is missing")
        big = await world.admin.post(
            PREFIX, headers={**create, "Upload-Length": str(MAX_UPLOAD + 1)}
        )
        refused(big, 413, "upload_too_large", f"at most {MAX_UPLOAD} bytes")
        deferred = await world.admin.post(PREFIX, headers={**create, "Upload-Defer-Length": "1"})
        refused(deferred, 400, "invalid_upload_request", "Deferred lengths")
        unnamed = await world.admin.post(PREFIX, headers={**TUS, "Upload-Length": "5"})
        refused(unnamed, 400, "invalid_upload_request", "needs a title")

        unknown = f"{PREFIX}/9b2f0c4e-5d1a-4c7e-8f3b-2a6d9e1c0b74"
        head = await world.admin.head(unknown, headers=TUS)  # no body: the status tells
        assert (head.status_code, head.headers["tus-resumable"]) == (404, "1.0.0")
        refused(await world.patch(unknown, 0, b"a"), 404, "upload_not_found", "no upload")
        refused(await world.patch(PREFIX + "/not-an-id", 0, b"a"), 404, "upload_not_found", "")
        assert (await world.admin.get(unknown)).status_code == 404
        # Nothing above changed the upload.
        assert (await world.admin.head(path, headers=TUS)).headers["upload-offset"] == "10"

    run(tmp_path, body)


def test_only_administrators_upload(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        path = await world.create(10)
        headers = {**TUS, "Upload-Length": "10", "Upload-Metadata": "title eA=="}
        for client, status in ((world.member, 403), (world.anon, 401), (world.front, 401)):
            assert (await client.post(PREFIX, headers=headers)).status_code == status
            assert (await client.head(path, headers=TUS)).status_code == status
            assert (await client.get(path)).status_code == status
            patched = await client.patch(
                path, content=b"a", headers={**OCTETS, "Upload-Offset": "0"}
            )
            assert patched.status_code == status
            assert (await client.delete(path, headers=TUS)).status_code == status
        assert (await world.admin.head(path, headers=TUS)).headers["upload-offset"] == "0"

    run(tmp_path, body)


def test_termination_deletes_the_parts(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        path = await world.create(100)
        upload_id = path.rsplit("/", 1)[1]
        await world.patch(path, 0, b"x" * 60)
        assert list(world.platform.objects.list(f"{UPLOADS}/{upload_id}/parts/"))
        answer = await world.admin.delete(path, headers=TUS)
        assert answer.status_code == 204
        assert answer.headers["tus-resumable"] == "1.0.0"
        assert list(world.platform.objects.list(f"{UPLOADS}/{upload_id}/")) == []
        assert (await world.admin.head(path, headers=TUS)).status_code == 404
        assert (await world.admin.delete(path, headers=TUS)).status_code == 404
        assert (await world.patch(path, 60, b"y")).status_code == 404

    run(tmp_path, body)


def test_post_only_clients_name_the_method_they_mean(tmp_path: Path) -> None:
    """tus's X-HTTP-Method-Override: POST standing in for PATCH, HEAD and DELETE."""

    async def body(world: World) -> None:
        path = await world.create(100)
        upload_id = path.rsplit("/", 1)[1]

        def override(method: str, **more: str) -> dict[str, str]:
            return {**TUS, "X-HTTP-Method-Override": method, **more}

        sent = await world.admin.post(
            path, content=b"x" * 40, headers=override("PATCH", **OCTETS, **{"Upload-Offset": "0"})
        )
        assert (sent.status_code, sent.headers["upload-offset"]) == (204, "40")
        assert list(world.platform.objects.list(f"{UPLOADS}/{upload_id}/parts/"))
        asked = await world.admin.post(path, headers=override("head"))
        assert asked.status_code == 200
        assert (asked.headers["upload-offset"], asked.headers["upload-length"]) == ("40", "100")
        stale = await world.admin.post(
            path, content=b"y", headers=override("PATCH", **OCTETS, **{"Upload-Offset": "0"})
        )
        refused(stale, 409, "offset_mismatch", "holds 40 bytes")
        plain = await world.admin.post(path, content=b"y", headers=OCTETS)
        refused(plain, 400, "invalid_upload_request", "needs X-HTTP-Method-Override")
        odd = await world.admin.post(path, headers=override("PUT"))
        refused(odd, 400, "invalid_upload_request", "it had PUT")
        # the override changes the method, not who may use it
        member = await world.member.post(path, headers=override("DELETE"))
        assert member.status_code == 403
        gone = await world.admin.post(path, headers=override("DELETE"))
        assert gone.status_code == 204
        assert list(world.platform.objects.list(f"{UPLOADS}/{upload_id}/")) == []
        assert (await world.admin.head(path, headers=TUS)).status_code == 404

    run(tmp_path, body)


def test_an_empty_file_still_becomes_a_job(tmp_path: Path) -> None:
    """The job, not the upload, says an empty file is no master (when it runs)."""

    async def body(world: World) -> None:
        path = await world.create(0, {"filename": "empty.mp4"})
        status = await submitted(world, path)
        job = world.platform.jobs.get(str(status["job_id"]))
        assert job.title == "empty"
        assert world.platform.objects.read_bytes(job.params["master_key"]) == b""

    run(tmp_path, body)


def test_an_upload_through_the_gateway(tmp_path: Path) -> None:
    """Through the front door the gateway vouches for the caller: anonymous here, so 401 with
    the runtime's body; the protocol's own answers pass through untouched."""

    async def body(world: World) -> None:
        path = await world.create(5)
        answer = await world.front.head(path, headers=TUS)
        assert answer.status_code == 401
        options = await world.front.options(path)
        assert options.headers["tus-extension"] == "creation,termination,expiration"

    run(tmp_path, body)


def test_a_dropped_connection_keeps_the_bytes_that_came(tmp_path: Path) -> None:
    """The client goes away in the middle of a PATCH body (the ASGI server says
    ``http.disconnect``): what arrived is stored, and HEAD says so."""

    async def body(world: World) -> None:
        path = await world.create(100)
        headers = {**dict(world.admin.headers), **OCTETS, "Upload-Offset": "0"}
        headers["Content-Length"] = "100"
        messages: list[dict[str, object]] = [
            {"type": "http.request", "body": b"a" * 30, "more_body": True},
            {"type": "http.request", "body": b"b" * 12, "more_body": True},
            {"type": "http.disconnect"},
        ]
        sent: list[dict[str, object]] = []

        async def receive() -> dict[str, object]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, object]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "PATCH",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("media", 80),
        }
        await world.monolith.instance("media").app(scope, receive, send)  # type: ignore[arg-type]
        head = await world.admin.head(path, headers=TUS)
        assert head.headers["upload-offset"] == "42"
        answer = await world.patch(path, 42, b"c" * 58)
        assert answer.headers["upload-offset"] == "100"
        status = await submitted(world, path)
        job = world.platform.jobs.get(str(status["job_id"]))
        master = world.platform.objects.read_bytes(job.params["master_key"])
        assert master == b"a" * 30 + b"b" * 12 + b"c" * 58

    run(tmp_path, body)


def test_an_upload_left_alone_expires(tmp_path: Path) -> None:
    """tus expiration: creation and PATCH answers say when the upload expires; one left alone
    past that answers 410 in plain words, and the sweep deletes it (a finished one stays)."""

    async def body(world: World) -> None:
        path = await world.create(len(MASTER))
        upload_id = path.rsplit("/", 1)[1]
        answer = await world.patch(path, 0, MASTER[:100])
        assert answer.status_code == 204
        expires = parsedate_to_datetime(answer.headers["upload-expires"]).timestamp()
        assert expires == pytest.approx(time.time() + DEFAULT_TTL_S, abs=60)

        # The upload goes quiet for a day and an hour: its records say it last moved then.
        objects = world.platform.objects
        info = UploadInfo.from_json(objects.read_bytes(f"{UPLOADS}/{upload_id}/info.json"))
        then = time.time() - DEFAULT_TTL_S - 3600
        old = dataclasses.replace(info, created_at=then)
        objects.put_bytes(f"{UPLOADS}/{upload_id}/info.json", old.to_json())
        objects.put_bytes(f"{UPLOADS}/{upload_id}/active", json.dumps({"since": then}).encode())

        head = await world.admin.head(path, headers=TUS)
        assert (head.status_code, head.headers["tus-resumable"]) == (410, "1.0.0")
        status = await world.admin.get(path)  # the console's JSON (not tus)
        assert status.status_code == 410
        assert status.json()["error"] == "upload_expired"
        assert "expired at" in status.json()["message"]
        late = await world.patch(path, 100, MASTER[100:])
        refused(late, 410, "upload_expired", "Start the upload again")

        done = await world.create(5)
        assert (await world.patch(done, 0, b"12345")).headers.get("upload-expires") is None
        await submitted(world, done)
        store = UploadStore(objects, SystemClock(), ttl_s=1)
        await asyncio.sleep(1.1)  # the finished one is older than this store's TTL too

        def finished(candidate: str) -> bool:
            return any(job.id == candidate for job in world.platform.jobs.recent())

        assert store.sweep(finished) == [upload_id]
        assert not any(objects.list(f"{UPLOADS}/{upload_id}/"))
        assert (await world.admin.get(done)).json()["state"] == "submitted"

    run(tmp_path, body)
