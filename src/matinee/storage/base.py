"""The one object-store interface every media byte goes through (the S3 role).

Keys are ``/``-separated relative paths such as ``masters/<job>/source.mov``. Large objects are
streamed in and out (multipart upload on write, chunked reads); nothing reads a whole master into
memory. ``read_bytes`` is for small objects (manifests, JSON) only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str | None
    last_modified: datetime | None


@runtime_checkable
class ObjectStore(Protocol):
    """Implemented by the local-directory store and the S3 store (both on obstore)."""

    url: str

    def put_file(self, key: str, path: Path) -> ObjectInfo:
        """Upload a local file, streamed in parts (multipart for large files)."""

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> ObjectInfo:
        """Upload from an iterator of byte chunks, streamed in parts."""

    def put_bytes(self, key: str, data: bytes) -> ObjectInfo:
        """Upload a small object in one request."""

    def get_file(self, key: str, path: Path) -> ObjectInfo:
        """Download an object to a local file, streamed (atomic: a temp file then rename)."""

    def iter_bytes(
        self, key: str, *, start: int | None = None, end: int | None = None
    ) -> Iterator[bytes]:
        """Stream an object's bytes, optionally the range [start, end) only."""

    def read_bytes(self, key: str) -> bytes:
        """Read a small object whole."""

    def head(self, key: str) -> ObjectInfo:
        """Metadata of an object; raises ObjectNotFound."""

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix`` (recursive)."""

    def delete(self, key: str) -> None:
        """Delete one object; deleting a missing object is not an error."""

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``; returns how many were deleted."""

    def local_path(self, key: str) -> Path | None:
        """A filesystem path holding the object, if the backend is a local directory; else None.

        Lets tools such as ffmpeg read local objects in place instead of copying them.
        """
