"""The origin's answers for packaged media: byte ranges, validators, conditional requests,
content types, cache headers and CORS (the rules are in :mod:`matinee.delivery.http`, which the
edges answer by too).

A whole object from a local object store goes out with ASGI ``pathsend`` when the server offers
it (granian does: the file is sent without passing through Python); a range, or an object in
S3, is read and streamed. Manifests cut to a token's height are answered from memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from fastapi import Request
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from matinee.delivery.http import (
    Answer,
    Representation,
    conditional_headers,
    etag_of_bytes,
    preflight,
)
from matinee.delivery.http import answer as answer_for
from matinee.platform import Platform

CHUNK = 256 * 1024


class ObjectResponse(Response):
    """One :class:`Answer` about an object, with its bytes from a file, memory or a stream."""

    def __init__(
        self,
        answer: Answer,
        *,
        size: int = 0,
        path: Path | None = None,
        body: bytes | None = None,
        stream: Iterator[bytes] | None = None,
    ) -> None:
        self.status_code = answer.status
        self.answer = answer
        self.size = size
        self.path = path
        self.data = body
        self.stream = stream
        self.background = None
        self.body = b""
        self.raw_headers = list(answer.headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = self.answer
        await send(
            {"type": "http.response.start", "status": answer.status, "headers": self.raw_headers}
        )
        if not answer.send_body:
            await send({"type": "http.response.body", "body": b""})
            return
        part = answer.range
        if self.data is not None:
            body = self.data if part is None else self.data[part.start : part.end + 1]
            await send({"type": "http.response.body", "body": body})
            return
        if self.path is not None:
            if part is None and "http.response.pathsend" in scope.get("extensions", {}):
                await send({"type": "http.response.pathsend", "path": str(self.path)})
                return
            start, length = (0, self.size) if part is None else (part.start, part.length)
            await _send_file(send, self.path, start, length)
            return
        if self.stream is not None:
            async for chunk in iterate_in_threadpool(self.stream):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


async def _send_file(send: Send, path: Path, start: int, length: int) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        offset, left = start, length
        while left > 0:
            chunk = await run_in_threadpool(os.pread, fd, min(CHUNK, left), offset)
            if not chunk:
                break
            offset += len(chunk)
            left -= len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": left > 0})
        if left > 0 or length == 0:
            await send({"type": "http.response.body", "body": b""})
    finally:
        os.close(fd)


def representation(platform: Platform, key: str) -> Representation:
    """What the origin knows of the object at ``key``; raises ObjectNotFound (404)."""
    info = platform.objects.head(key)
    mtime = int(info.last_modified.timestamp()) if info.last_modified else 0
    return Representation.of(key, info.size, mtime)


def object_response(platform: Platform, key: str, request: Request) -> ObjectResponse:
    """The object at ``key`` as ``request`` asks for it (GET or HEAD, ranges, validators):
    in place from a local directory, or streamed from S3. Raises ObjectNotFound (404)."""
    rep = representation(platform, key)
    answer = _answer(request, rep)
    if not answer.send_body:
        return ObjectResponse(answer)
    path = platform.objects.local_path(key)
    if path is not None:
        return ObjectResponse(answer, size=rep.size, path=path)
    part = answer.range
    stream = (
        platform.objects.iter_bytes(key)
        if part is None
        else platform.objects.iter_bytes(key, start=part.start, end=part.end + 1)
    )
    return ObjectResponse(answer, stream=stream)


def bytes_response(key: str, body: bytes, mtime: int, request: Request) -> ObjectResponse:
    """``body`` (made for this request: a manifest cut to a token's height) as the object at
    ``key``: its own entity tag, cached privately and briefly."""
    rep = Representation.of(key, len(body), mtime, etag=etag_of_bytes(body), private=True)
    return ObjectResponse(_answer(request, rep), body=body)


def preflight_response(request: Request) -> Response:
    """The answer to a browser's CORS preflight for media."""
    headers = preflight(dict(request.scope["headers"]))
    response = Response(status_code=204)
    response.raw_headers = headers
    return response


def _answer(request: Request, rep: Representation) -> Answer:
    return answer_for(request.method, conditional_headers(request.scope["headers"]), rep)
