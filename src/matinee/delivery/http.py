"""HTTP for media objects: the rules the origin and every edge answer by.

One object, one :class:`Representation` (size, modification time, entity tag, content type,
cache policy); :func:`answer` turns a request's method and conditional headers into the status,
the response headers and the bytes to send:

* content types for the package's files (HLS, DASH, CMAF segments, MP4, WebVTT, JPEG);
* ``Cache-Control``: a year and ``immutable`` for everything but manifests (a published package
  never changes), a few seconds for manifests (``private`` when cut to one viewer's token);
* validators as nginx makes them (``"<mtime hex>-<size hex>"``), so the origin, every edge and
  a pull-through CDN in front of either name the same bytes with the same ``ETag``: an edge sets
  the modification time of the files it fills from the ``Last-Modified`` it was given;
* conditional requests in RFC 9110's order (If-Match, If-Unmodified-Since -> 412;
  If-None-Match, If-Modified-Since -> 304), then ``If-Range`` and one byte range (206, or 416
  when no byte of it exists); several ranges, or a malformed header, get the whole object;
* CORS for browser players: any origin, ``Content-Range`` and friends exposed, preflights.
"""

from __future__ import annotations

import email.utils
import hashlib
import mimetypes
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field

from matinee.delivery.errors import DeliveryError

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mpd": "application/dash+xml",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".vtt": "text/vtt",
    ".jpg": "image/jpeg",
}
MANIFESTS = (".m3u8", ".mpd")
IMMUTABLE = "public, max-age=31536000, immutable"
MANIFEST_SECONDS = 4  # a player re-reads a live manifest about this often; VOD ones rarely
MANIFEST_CACHE = f"public, max-age={MANIFEST_SECONDS}"
PRIVATE_MANIFEST_CACHE = f"private, max-age={MANIFEST_SECONDS}"

# The request headers :func:`answer` reads (lower case, as ASGI gives them).
CONDITIONAL = (
    b"range",
    b"if-range",
    b"if-match",
    b"if-none-match",
    b"if-modified-since",
    b"if-unmodified-since",
)
CORS: tuple[tuple[bytes, bytes], ...] = (
    (b"access-control-allow-origin", b"*"),
    (
        b"access-control-expose-headers",
        b"Content-Length, Content-Range, Accept-Ranges, ETag, Last-Modified",
    ),
    (b"timing-allow-origin", b"*"),  # players measure throughput with Resource Timing
)
PREFLIGHT_HEADERS = b"Range, If-Range, If-None-Match, If-Modified-Since"
Headers = list[tuple[bytes, bytes]]


class RangeNotSatisfiable(DeliveryError):
    """The byte range asks for bytes past the end of the object."""

    code = "range_not_satisfiable"


def content_type(key: str) -> str:
    """The ``Content-Type`` of the object at ``key``, by its suffix."""
    suffix = posixpath.splitext(key)[1].lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(key)[0] or "application/octet-stream"


def is_manifest(key: str) -> bool:
    return key.endswith(MANIFESTS)


def cache_control(key: str, *, private: bool = False) -> str:
    """Short for manifests (``private`` when cut for one token), a year for the rest."""
    if is_manifest(key):
        return PRIVATE_MANIFEST_CACHE if private else MANIFEST_CACHE
    return IMMUTABLE


def etag_for(size: int, mtime: int) -> str:
    """The strong entity tag of ``size`` bytes last modified at ``mtime`` (as nginx makes it)."""
    return f'"{mtime:x}-{size:x}"'


def etag_of_bytes(body: bytes) -> str:
    """A strong entity tag for bytes made per request (a manifest cut to a token's height)."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def http_date(epoch: float) -> str:
    return email.utils.formatdate(epoch, usegmt=True)


def parse_http_date(value: str) -> int | None:
    """Whole seconds since the epoch, or None when ``value`` is not an HTTP date."""
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return None
    return int(parsed.timestamp())


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes ``start`` to ``end``, both included."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> bytes:
        return f"bytes {self.start}-{self.end}/{size}".encode("ascii")


def parse_range(value: str, size: int) -> ByteRange | None:
    """The one byte range ``value`` asks for, clipped to ``size``; None when the header is to be
    ignored (not bytes, several ranges, malformed); RangeNotSatisfiable when no byte exists."""
    unit, sep, spec = value.partition("=")
    if not sep or unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first.isdigit() or first == "") or not (last.isdigit() or last == ""):
        return None
    if first == "":
        if last == "":
            return None
        suffix = int(last)  # the last N bytes
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(f"The range {value!r} holds no byte of {size}.")
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    if last != "" and int(last) < start:
        return None  # RFC 9110: an invalid range-spec; the header is ignored
    end = size - 1 if last == "" else int(last)
    if start >= size:
        raise RangeNotSatisfiable(f"The range {value!r} starts past the end ({size} bytes).")
    return ByteRange(start, min(end, size - 1))


def _tags(value: str) -> list[str]:
    return [t.strip() for t in value.split(",") if t.strip()]


def _weak_match(value: str, etag: str) -> bool:
    if value.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(t.removeprefix("W/") == bare for t in _tags(value))


def _strong_match(value: str, etag: str) -> bool:
    if value.strip() == "*":
        return True
    return not etag.startswith("W/") and any(t == etag for t in _tags(value))


@dataclass(frozen=True)
class Representation:
    """What a server knows of one object before reading it. ``headers`` are the ones every
    answer about it carries; a plain 200 sends ``full_headers`` (built once)."""

    size: int
    mtime: int
    etag: str
    content_type: str
    cache_control: str
    headers: Headers = field(init=False, repr=False, compare=False)
    full_headers: Headers = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        common: Headers = [
            (b"etag", self.etag.encode("latin-1")),
            (b"last-modified", http_date(self.mtime).encode("ascii")),
            (b"cache-control", self.cache_control.encode("ascii")),
            (b"accept-ranges", b"bytes"),
            *CORS,
        ]
        object.__setattr__(self, "headers", common)
        full = [
            (b"content-type", self.content_type.encode("latin-1")),
            (b"content-length", str(self.size).encode("ascii")),
            *common,
        ]
        object.__setattr__(self, "full_headers", full)

    @classmethod
    def of(
        cls, key: str, size: int, mtime: int, *, etag: str | None = None, private: bool = False
    ) -> Representation:
        """The representation of the object at ``key`` (types and caching by its suffix)."""
        return cls(
            size=size,
            mtime=mtime,
            etag=etag or etag_for(size, mtime),
            content_type=content_type(key),
            cache_control=cache_control(key, private=private),
        )


@dataclass(frozen=True, slots=True)
class Answer:
    """How to answer: ``status`` and ``headers``; ``send_body`` False for HEAD, 304, 412 and
    416; ``range`` the bytes of a 206 (None: the whole object)."""

    status: int
    headers: Headers
    send_body: bool
    range: ByteRange | None = None


def answer(method: str, request: Mapping[bytes, str], rep: Representation) -> Answer:
    """The answer to a GET or HEAD of ``rep``. ``request`` holds the request's conditional
    headers (any of :data:`CONDITIONAL`, lower-case names)."""
    head = method == "HEAD"
    if not request:  # the common case: no validators, no range
        return Answer(200, rep.full_headers, send_body=not head)
    decided = _preconditions(request, rep)
    if decided is not None:
        return decided
    wanted = request.get(b"range")
    if wanted is None or head or not _if_range_holds(request.get(b"if-range"), rep):
        return Answer(200, rep.full_headers, send_body=not head)
    return _ranged(wanted, rep)


def _preconditions(request: Mapping[bytes, str], rep: Representation) -> Answer | None:
    """412 or 304 when the validators say so (RFC 9110 section 13.2.2), else None."""
    if_match = request.get(b"if-match")
    if if_match is not None:
        if not _strong_match(if_match, rep.etag):
            return Answer(412, [(b"content-length", b"0"), *rep.headers], send_body=False)
    else:
        since = request.get(b"if-unmodified-since")
        date = parse_http_date(since) if since is not None else None
        if date is not None and rep.mtime > date:
            return Answer(412, [(b"content-length", b"0"), *rep.headers], send_body=False)
    if_none_match = request.get(b"if-none-match")
    if if_none_match is not None:
        matched = _weak_match(if_none_match, rep.etag)
    else:
        modified = request.get(b"if-modified-since")
        date = parse_http_date(modified) if modified is not None else None
        matched = date is not None and rep.mtime <= date
    return Answer(304, rep.headers, send_body=False) if matched else None


def _ranged(wanted: str, rep: Representation) -> Answer:
    """206 with the one range asked for, 416 when none of it exists, else the whole 200."""
    try:
        part = parse_range(wanted, rep.size)
    except RangeNotSatisfiable:
        headers = [
            (b"content-range", f"bytes */{rep.size}".encode("ascii")),
            (b"content-length", b"0"),
            *rep.headers,
        ]
        return Answer(416, headers, send_body=False)
    if part is None:
        return Answer(200, rep.full_headers, send_body=True)
    headers = [
        (b"content-type", rep.content_type.encode("latin-1")),
        (b"content-length", str(part.length).encode("ascii")),
        (b"content-range", part.content_range(rep.size)),
        *rep.headers,
    ]
    return Answer(206, headers, send_body=True, range=part)


def _if_range_holds(value: str | None, rep: Representation) -> bool:
    """Whether a Range may be honoured: no If-Range, or it names this very representation
    (a strong entity tag, or exactly its modification date)."""
    if value is None:
        return True
    value = value.strip()
    if value.startswith(('"', "W/")):
        return not value.startswith("W/") and value == rep.etag
    return parse_http_date(value) == rep.mtime


def conditional_headers(raw: list[tuple[bytes, bytes]]) -> dict[bytes, str]:
    """The conditional headers of an ASGI request (``scope["headers"]``)."""
    found: dict[bytes, str] = {}
    for name, value in raw:
        if name in CONDITIONAL:
            found[name] = value.decode("latin-1")
    return found


def preflight(request_headers: Mapping[bytes, bytes]) -> Headers:
    """The headers of a 204 answer to a CORS preflight (``OPTIONS``) for media."""
    asked = request_headers.get(b"access-control-request-headers")
    return [
        (b"access-control-allow-origin", b"*"),
        (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
        (b"access-control-allow-headers", asked or PREFLIGHT_HEADERS),
        (b"access-control-max-age", b"86400"),
        (b"content-length", b"0"),
    ]
