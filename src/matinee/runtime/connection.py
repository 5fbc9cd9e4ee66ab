"""One HTTP/1.1 client connection on asyncio and httptools, and the bytes of one request.

A :class:`Connection` carries one request at a time: ``send`` writes the pre-built request and
its answer arrives on a future as a whole :class:`Response`. httptools (llhttp) parses the
answer: content-length, chunked and close-delimited bodies, 1xx answers skipped, HEAD answers
complete at their headers. ``runtime.httpclient`` pools these connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

import httptools

from matinee.resilience.errors import UpstreamReadTimeout
from matinee.runtime.transport import Headers, Response, UpstreamDisconnected

# Set here from the URL and the body; a caller's copy would contradict them.
_OWN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_NO_BODY_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "TRACE"})


class Connection(asyncio.Protocol):
    """One keep-alive connection; at most one request on it at a time."""

    __slots__ = (
        "_body",
        "_eof_body",
        "_head",
        "_headers",
        "_headers_done",
        "_keep_alive",
        "_parser",
        "_waiter",
        "authority",
        "closed",
        "idle_since",
        "on_lost",
        "received",
        "transport",
        "uses",
    )

    def __init__(self, authority: str, on_lost: Callable[[Connection], None]) -> None:
        self.authority = authority
        self.on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self._waiter: asyncio.Future[Response] | None = None
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._head = False
        self._headers_done = False
        self._eof_body = False
        self._keep_alive = False
        self.closed = False
        self.received = False  # any byte of the current answer
        self.idle_since = 0.0
        self.uses = 0

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a stream connection

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._parser is None:
            self.close()  # bytes nobody asked for: this connection cannot be trusted again
            return
        self.received = True
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self._fail(
                UpstreamDisconnected(
                    f"{self.authority} sent an invalid answer: {exc}", instance=self.authority
                )
            )
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.on_lost(self)
        if self._waiter is None or self._waiter.done():
            return
        if self._headers_done and self._eof_body:  # the body ran until the server closed
            self._complete()
            return
        why = f" ({exc})" if exc is not None else ""
        self._fail(
            UpstreamDisconnected(
                f"{self.authority} closed the connection before answering{why}",
                instance=self.authority,
            )
        )

    # -- httptools callbacks ------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self._headers_done = True
        if self._head:
            self._complete()
            return
        framed = False
        for name, value in self._headers:
            lower = name.lower()
            if lower == "content-length" or (
                lower == "transfer-encoding" and "chunked" in value.lower()
            ):
                framed = True
                break
        status = self._status()
        self._eof_body = not framed and status >= 200 and status not in (204, 304)

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._status() < 200:  # 1xx (103 Early Hints ...): the real answer follows
            self._headers = []
            self._headers_done = False
            return
        self._complete()

    # -- the exchange -------------------------------------------------------------------------

    def send(self, request: bytes, waiter: asyncio.Future[Response], *, head: bool) -> None:
        self._waiter = waiter
        self._headers = []
        self._body = []
        self._headers_done = False
        self._eof_body = False
        self.received = False
        self._head = head
        if self._parser is None:
            self._parser = httptools.HttpResponseParser(self)
        self.uses += 1
        assert self.transport is not None  # noqa: S101 - sent on connected connections only
        self.transport.write(request)

    def _status(self) -> int:
        return self._parser.get_status_code() if self._parser is not None else 0

    def _complete(self) -> None:
        waiter, self._waiter = self._waiter, None
        parser = self._parser
        self._keep_alive = parser is not None and parser.should_keep_alive()
        if self._head:
            self._parser = None  # it still expects the body a GET would get; start afresh
        if waiter is None or waiter.done():
            return
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        waiter.set_result(Response(self._status(), self._headers, body, self.authority))

    def _fail(self, exc: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def reusable(self) -> bool:
        return self._keep_alive and not self.closed

    def timed_out(self, timeout: float) -> None:
        self._fail(
            UpstreamReadTimeout(
                f"{self.authority} did not answer within {timeout:g} s",
                instance=self.authority,
            )
        )
        self.close()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()  # connection_lost follows and tells the owner
        self.closed = True


def encode_request(
    method: str, target: str, authority: str, headers: Headers, body: bytes
) -> bytes:
    parts = [method, " ", target, " HTTP/1.1\r\nhost: ", authority, "\r\n"]
    lines = 2
    for name, value in headers:
        if name.lower() in _OWN_HEADERS:
            continue
        parts += (name, ": ", value, "\r\n")
        lines += 1
    if body or method not in _NO_BODY_METHODS:
        parts += ("content-length: ", str(len(body)), "\r\n")
        lines += 1
    parts.append("\r\n")
    head = "".join(parts)
    if head.count("\n") != lines + 1 or " " in target:
        raise ValueError("a header name or value, or the URL, contains a line break or space")
    try:
        data = head.encode("latin-1")
    except UnicodeEncodeError:
        data = head.encode("utf-8")
    return data + body if body else data
