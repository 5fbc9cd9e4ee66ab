"""Resumable uploads of masters over tus 1.0.0 (core, creation, termination, expiration), for
administrators: what the admin console's tus-js-client speaks.

* ``OPTIONS /api/media/uploads``: the protocol's version, extensions and Tus-Max-Size;
* ``POST /api/media/uploads`` with ``Upload-Length`` and ``Upload-Metadata`` (``filename``,
  ``title``, optional ``title_id``) → 201 and ``Location: /api/media/uploads/<id>``;
* ``HEAD /api/media/uploads/<id>`` → ``Upload-Offset`` and ``Upload-Length``;
* ``PATCH /api/media/uploads/<id>`` (``Content-Type: application/offset+octet-stream``,
  ``Upload-Offset``) appends the body → 204 and the new ``Upload-Offset``;
* ``DELETE /api/media/uploads/<id>`` → 204, every stored part deleted;
* ``GET /api/media/uploads/<id>`` (JSON, not tus): the state and, once submitted, the job.

An unfinished upload expires ``upload_ttl_s`` (24 h) after its last byte: creation and PATCH
answers carry ``Upload-Expires``; after it, the upload answers 410 and the sweeper
(:class:`UploadSweeper`, every instance) deletes its parts.

Bytes go to the object store as they arrive (``upload_store``); on the last one the master
is assembled and its ingest job submitted in the background (``intake``). Errors are the
service's JSON error bodies, with ``Tus-Resumable`` like every tus answer.
"""

# No ``from __future__ import annotations`` here: FastAPI must see the dependencies that the
# route functions' annotations name, which are local to the router factory.

import asyncio
import email.utils
import functools
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Literal, ParamSpec

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from matinee.gateway.auth import Identity
from matinee.runtime import tracing
from matinee.runtime.background import every
from matinee.runtime.identity import Callers
from matinee.services.media import tus
from matinee.services.media.errors import (
    UploadBusy,
    UploadError,
    UploadExpired,
    UploadOffsetMismatch,
    UploadRequestInvalid,
    UploadTooLarge,
    status_of,
)
from matinee.services.media.intake import Intake
from matinee.services.media.schemas import UploadForm, UploadStatus
from matinee.services.media.upload_store import UploadInfo, UploadStore

log = logging.getLogger(__name__)

PREFIX = "/api/media/uploads"
DEFAULT_MAX_SIZE = 64 * 1024**3  # Tus-Max-Size: 64 GiB
P = ParamSpec("P")


def error_response(exc: UploadError) -> Response:
    """The runtime's JSON error body, with the tus headers."""
    code = getattr(exc, "code", None)
    if not isinstance(code, str):
        code = re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()
    body = {"error": code, "message": str(exc), "request_id": tracing.current_request_id()}
    headers = tus.tus_headers()
    if status_of(exc) == 412:
        headers["Tus-Version"] = tus.TUS_VERSION
    return JSONResponse(body, status_code=status_of(exc), headers=headers)


def tus_errors(handler: Callable[P, Awaitable[Response]]) -> Callable[P, Awaitable[Response]]:
    """Answer a handler's UploadErrors as tus answers (other errors go to the runtime)."""

    @functools.wraps(handler)
    async def answer(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return await handler(*args, **kwargs)
        except UploadError as exc:
            return error_response(exc)

    return answer


class Uploads:
    """The protocol's logic over the store (blocking store calls run in threads)."""

    def __init__(self, store: UploadStore, intake: Intake, max_size: int) -> None:
        self.store = store
        self.intake = intake
        self.max_size = max_size
        self._busy: set[str] = set()  # uploads a PATCH is writing, on this instance

    async def offset(self, info: UploadInfo) -> int:
        """Bytes held; the whole length once the job is recorded (its parts are gone)."""
        held = await asyncio.to_thread(self.store.offset, info.id)
        if held < info.length and await asyncio.to_thread(self.intake.job, info.id) is not None:
            return info.length
        return held

    async def status(self, upload_id: str) -> tuple[UploadInfo, int]:
        info = await asyncio.to_thread(self.store.info, upload_id)
        offset = await self.offset(info)
        if offset < info.length:
            await self._check_expiry(info)
        elif upload_id not in self._busy:
            await asyncio.to_thread(self.intake.recover, upload_id)
        return info, offset

    async def _check_expiry(self, info: UploadInfo) -> None:
        """UploadExpired for an unfinished upload left alone past its expiry."""
        expires = await asyncio.to_thread(self.store.expires_at, info)
        if self.store.clock.time() >= expires:
            hours = self.store.ttl_s / 3600
            raise UploadExpired(
                f"Upload {info.id} expired at {http_date(expires)}: an unfinished upload is kept "
                f"for {hours:g} hours after its last byte. Start the upload again."
            )

    def expires(self) -> str:
        """``Upload-Expires`` for an upload that has just received bytes."""
        return http_date(self.store.clock.time() + self.store.ttl_s)

    async def append(self, upload_id: str, offset: int, request: Request) -> tuple[int, int]:
        """Store the PATCH body at ``offset``; the new offset and the upload's length."""
        if upload_id in self._busy:
            raise UploadBusy(
                "Another request is writing to this upload right now; try again in a moment."
            )
        self._busy.add(upload_id)
        try:
            info = await asyncio.to_thread(self.store.info, upload_id)
            held = await self.offset(info)
            if held < info.length:
                await self._check_expiry(info)
            if offset != held:
                raise UploadOffsetMismatch(
                    f"Upload-Offset is {offset}, but the server holds {held} bytes of this "
                    "upload: ask with HEAD and send from there."
                )
            declared = request.headers.get("content-length")
            if declared is not None and declared.isdigit() and offset + int(declared) > info.length:
                raise UploadTooLarge(
                    f"This body would take the upload to {offset + int(declared)} bytes, past "
                    f"its Upload-Length of {info.length}."
                )
            end = await self._receive(info, offset, request)
        finally:
            self._busy.discard(upload_id)
        if end == info.length and end > offset:
            self.intake.finish(upload_id)
        return end, info.length

    async def _receive(self, info: UploadInfo, offset: int, request: Request) -> int:
        """Write the body in pieces as it comes; on a dropped connection keep what came."""
        piece = self.store.piece_bytes
        buffer = bytearray()
        start = offset  # where ``buffer`` begins in the file
        try:
            async for chunk in request.stream():
                if start + len(buffer) + len(chunk) > info.length:
                    raise UploadTooLarge(
                        f"The body runs past the upload's Upload-Length of {info.length} bytes."
                    )
                buffer += chunk
                while len(buffer) >= piece:
                    await asyncio.to_thread(
                        self.store.put_part, info.id, start, bytes(buffer[:piece])
                    )
                    start += piece
                    del buffer[:piece]
        except ClientDisconnect:
            log.info("upload %s: the client left at byte %d", info.id, start + len(buffer))
        finally:
            if buffer:
                await asyncio.to_thread(self.store.put_part, info.id, start, bytes(buffer))
                start += len(buffer)
        return start


def http_date(epoch: float) -> str:
    return email.utils.formatdate(epoch, usegmt=True)


class UploadSweeper:
    """Deletes expired unfinished uploads (each instance sweeps; deleting twice is harmless).
    ``lifespan`` runs a pass every ``interval`` seconds of ``clock`` (``runtime.background``)."""

    def __init__(self, store: UploadStore, intake: Intake, interval: float) -> None:
        self.store = store
        self.intake = intake
        self.lifespan = every(store.clock, interval, self._step, name="upload-sweeper")

    def sweep(self) -> list[str]:
        """One pass (blocking): the ids deleted."""
        deleted = self.store.sweep(lambda upload_id: self.intake.job(upload_id) is not None)
        for upload_id in deleted:
            log.info("upload %s expired unfinished; its parts are deleted", upload_id)
        return deleted

    async def _step(self) -> list[str]:
        return await asyncio.to_thread(self.sweep)


def status_out(info: UploadInfo, offset: int, job_id: str | None) -> UploadStatus:
    state: Literal["uploading", "assembling", "submitted"] = (
        "submitted" if job_id else "assembling" if offset == info.length else "uploading"
    )
    meta = info.metadata
    return UploadStatus(
        id=info.id,
        offset=offset,
        length=info.length,
        state=state,
        job_id=job_id,
        metadata=UploadForm(filename=meta.filename, title=meta.title, title_id=meta.title_id),
        created_at=datetime.fromtimestamp(info.created_at, UTC),
    )


def declared_length(headers: Mapping[str, str], max_size: int) -> int:
    """A creation request's ``Upload-Length``: given, a whole number, at most ``max_size``."""
    if "upload-defer-length" in headers:
        raise UploadRequestInvalid(
            "Deferred lengths are not supported: send Upload-Length with the file's size."
        )
    length = tus.parse_count(headers, "Upload-Length")
    if length > max_size:
        raise UploadTooLarge(
            f"The file is {length} bytes; uploads may be at most {max_size} bytes."
        )
    return length


def router(uploads: Uploads, callers: Callers) -> APIRouter:
    api = APIRouter(tags=["uploads"])
    options_headers = tus.tus_headers(
        Tus_Version=tus.TUS_VERSION,
        Tus_Extension=tus.EXTENSIONS,
        Tus_Max_Size=str(uploads.max_size),
    )

    @api.options(PREFIX, summary="What this tus server supports")
    @api.options(PREFIX + "/{upload_id}", summary="What this tus server supports")
    async def options() -> Response:
        """tus discovery: version, extensions (creation, termination) and Tus-Max-Size."""
        return Response(status_code=204, headers=options_headers)

    @api.post(PREFIX, status_code=201, summary="Start a resumable upload (tus creation)")
    @tus_errors
    async def create(
        request: Request, who: Annotated[Identity, Depends(callers.admin)]
    ) -> Response:
        """Needs ``Upload-Length`` (bytes) and ``Upload-Metadata`` (``filename``, ``title``,
        optional ``title_id``, base64). Answers 201 with the upload's ``Location``."""
        headers = request.headers
        tus.check_version(headers)
        length = declared_length(headers, uploads.max_size)
        metadata = tus.upload_metadata(tus.parse_metadata(headers.get("upload-metadata")))
        info = await asyncio.to_thread(uploads.store.create, length, metadata, who.subject)
        log.info(
            "upload %s started by %s: %d bytes of %r",
            info.id,
            who.subject,
            length,
            metadata.filename,
        )
        if length == 0:
            uploads.intake.finish(info.id)  # nothing to wait for (the job will say it is empty)
        location = f"{PREFIX}/{info.id}"
        answer = tus.tus_headers(Location=location, Upload_Offset="0")
        if length:
            answer["Upload-Expires"] = uploads.expires()
        return Response(status_code=201, headers=answer)

    @api.head(PREFIX + "/{upload_id}", summary="How much of an upload the server holds")
    @tus_errors
    async def head(
        upload_id: str, request: Request, _: Annotated[Identity, Depends(callers.admin)]
    ) -> Response:
        """``Upload-Offset`` (bytes held), ``Upload-Length`` and ``Upload-Metadata``."""
        tus.check_version(request.headers)
        info, offset = await uploads.status(upload_id)
        return Response(
            status_code=200,
            headers=tus.tus_headers(
                Upload_Offset=str(offset),
                Upload_Length=str(info.length),
                Upload_Metadata=tus.encode_metadata(info.metadata.as_dict()),
            ),
        )

    @api.patch(PREFIX + "/{upload_id}", status_code=204, summary="Append to an upload")
    @tus_errors
    async def patch(
        upload_id: str, request: Request, _: Annotated[Identity, Depends(callers.admin)]
    ) -> Response:
        """The body goes at ``Upload-Offset``, which must be the bytes held (409 otherwise)."""
        tus.check_version(request.headers)
        tus.check_content_type(request.headers)
        offset = tus.parse_count(request.headers, "Upload-Offset")
        end, length = await uploads.append(upload_id, offset, request)
        headers = tus.tus_headers(Upload_Offset=str(end))
        if end < length:
            headers["Upload-Expires"] = uploads.expires()
        return Response(status_code=204, headers=headers)

    @api.delete(PREFIX + "/{upload_id}", status_code=204, summary="Abandon an upload")
    @tus_errors
    async def terminate(
        upload_id: str, request: Request, _: Annotated[Identity, Depends(callers.admin)]
    ) -> Response:
        """tus termination: the upload and every stored part are deleted (a job it already
        submitted goes on)."""
        tus.check_version(request.headers)
        await asyncio.to_thread(uploads.store.info, upload_id)  # 404 when unknown
        removed = await asyncio.to_thread(uploads.store.delete, upload_id)
        log.info("upload %s terminated (%d objects deleted)", upload_id, removed)
        return Response(status_code=204, headers=tus.tus_headers())

    @api.post(PREFIX + "/{upload_id}", summary="PATCH, DELETE or HEAD for POST-only clients")
    @tus_errors
    async def overridden(
        upload_id: str, request: Request, who: Annotated[Identity, Depends(callers.admin)]
    ) -> Response:
        """tus's ``X-HTTP-Method-Override``: a client behind a proxy that lets only GET and POST
        through sends POST with the method it means, and this server must treat it as that."""
        meant = (request.headers.get("x-http-method-override") or "").strip().upper()
        handler = {"PATCH": patch, "DELETE": terminate, "HEAD": head}.get(meant)
        if handler is not None:
            return await handler(upload_id, request, who)
        raise UploadRequestInvalid(
            "A POST to an upload needs X-HTTP-Method-Override: PATCH, DELETE or HEAD "
            f"(it had {meant[:20] or 'none'}); uploads start with a POST to {PREFIX}."
        )

    @api.get(
        PREFIX + "/{upload_id}",
        summary="An upload's state and its job",
        response_model=UploadStatus,
    )
    async def get_status(
        upload_id: str, _: Annotated[Identity, Depends(callers.admin)]
    ) -> UploadStatus:
        """Not part of tus: JSON for the console, with ``job_id`` once the job is submitted
        (the job's id is also the asset's)."""
        info, offset = await uploads.status(upload_id)
        job = await asyncio.to_thread(uploads.intake.job, upload_id)
        return status_out(info, offset, job.id if job is not None else None)

    return api
