"""The tus 1.0.0 protocol's headers (https://tus.io/protocols/resumable-upload): reading the
client's (version, lengths, offsets, metadata) and writing the server's.

Metadata is ``Upload-Metadata: key base64(value),key2 base64(value2)``. The upload form sends
``filename``, ``title`` (the job's and asset's name; the file's name without its extension when
absent) and, optionally, ``title_id`` (the catalog title to link the asset to later).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass

from matinee.services.media.errors import (
    TusVersionUnsupported,
    UploadContentType,
    UploadRequestInvalid,
)

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,termination,expiration"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
MAX_METADATA_HEADER = 8 * 1024  # characters of Upload-Metadata
MAX_TITLE = 300  # the jobs and assets tables' title columns
MAX_TITLE_ID = 64
MAX_FILENAME = 255

_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_DIGITS = re.compile(r"^[0-9]{1,19}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SUFFIX = re.compile(r"^\.[a-z0-9]{1,10}$")


@dataclass(frozen=True)
class UploadMetadata:
    """What the upload form says about the file."""

    filename: str
    title: str
    title_id: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"filename": self.filename, "title": self.title, "title_id": self.title_id}

    @property
    def suffix(self) -> str:
        """The master's extension for its object key (``.bin`` when it has none we trust)."""
        _, dot, ext = self.filename.rpartition(".")
        suffix = f".{ext.lower()}" if dot else ""
        return suffix if _SUFFIX.match(suffix) else ".bin"


def tus_headers(**extra: str) -> dict[str, str]:
    """Headers every tus answer carries, plus ``extra`` (underscores become dashes)."""
    headers = {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store"}
    headers.update({k.replace("_", "-"): v for k, v in extra.items()})
    return headers


def check_version(headers: Mapping[str, str]) -> None:
    """Every tus request but OPTIONS names the protocol version it speaks."""
    version = headers.get("tus-resumable")
    if version is None:
        raise UploadRequestInvalid(
            f"The Tus-Resumable header is missing: send Tus-Resumable: {TUS_VERSION}."
        )
    if version.strip() != TUS_VERSION:
        raise TusVersionUnsupported(
            f"This server speaks tus {TUS_VERSION}, not {version.strip()[:20]!r}."
        )


def parse_count(headers: Mapping[str, str], name: str) -> int:
    """A non-negative integer header (Upload-Length, Upload-Offset), required."""
    value = headers.get(name.lower())
    if value is None:
        raise UploadRequestInvalid(f"The {name} header is missing.")
    value = value.strip()
    if not _DIGITS.match(value):
        raise UploadRequestInvalid(
            f"The {name} header must be a whole number of bytes, not {value[:30]!r}."
        )
    return int(value)


def check_content_type(headers: Mapping[str, str]) -> None:
    value = headers.get("content-type", "").split(";")[0].strip().lower()
    if value != OFFSET_CONTENT_TYPE:
        shown = repr(value) if value else "none"
        raise UploadContentType(
            f"A PATCH carries Content-Type: {OFFSET_CONTENT_TYPE} (this one had {shown})."
        )


def parse_metadata(header: str | None) -> dict[str, str]:
    """The key/value pairs of an Upload-Metadata header (values decoded from base64)."""
    if header is None or not header.strip():
        return {}
    if len(header) > MAX_METADATA_HEADER:
        raise UploadRequestInvalid(
            f"The Upload-Metadata header is longer than {MAX_METADATA_HEADER} characters."
        )
    pairs: dict[str, str] = {}
    for item in header.split(","):
        key, _, encoded = item.strip().partition(" ")
        encoded = encoded.strip()
        if not _KEY.match(key):
            raise UploadRequestInvalid(
                f"Upload-Metadata has a key that is not a plain word: {key[:30]!r}."
            )
        if key in pairs:
            raise UploadRequestInvalid(f"Upload-Metadata names {key!r} twice.")
        try:
            value = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            raise UploadRequestInvalid(
                f"Upload-Metadata's value of {key!r} is not base64 of UTF-8 text."
            ) from exc
        pairs[key] = value
    return pairs


def encode_metadata(pairs: Mapping[str, str | None]) -> str:
    """The Upload-Metadata header for ``pairs`` (None values are left out)."""
    return ",".join(
        f"{k} {base64.b64encode(v.encode()).decode('ascii')}" for k, v in pairs.items() if v
    )


def upload_metadata(pairs: Mapping[str, str]) -> UploadMetadata:
    """Check the form's fields: a file name or a title is needed, all of them plain text."""
    filename = _text(pairs, "filename", MAX_FILENAME).replace("/", "_").replace("\\", "_")
    title = _text(pairs, "title", MAX_TITLE)
    if not title:
        title = filename.rpartition(".")[0] or filename
    if not title:
        raise UploadRequestInvalid(
            "Upload-Metadata needs a title (or at least a filename to name the job after)."
        )
    title_id = _text(pairs, "title_id", MAX_TITLE_ID) or None
    return UploadMetadata(filename=filename or "master", title=title[:MAX_TITLE], title_id=title_id)


def _text(pairs: Mapping[str, str], key: str, limit: int) -> str:
    value = pairs.get(key, "").strip()
    if len(value) > limit:
        raise UploadRequestInvalid(f"Upload-Metadata's {key} is longer than {limit} characters.")
    if _CONTROL.search(value):
        raise UploadRequestInvalid(f"Upload-Metadata's {key} has control characters in it.")
    return value
