"""The object store: one interface, a local directory or S3 behind it, picked by URL::

open_store("file:///srv/matinee/objects")
open_store("s3://bucket/prefix", S3Options(endpoint="http://127.0.0.1:9000"))
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from matinee.storage.base import ObjectInfo, ObjectStore
from matinee.storage.errors import InvalidKey, ObjectNotFound, StorageError, StorageUnavailable
from matinee.storage.obstore_store import ObstoreObjectStore, S3Options, validate_prefix

__all__ = [
    "InvalidKey",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "ObstoreObjectStore",
    "S3Options",
    "StorageError",
    "StorageUnavailable",
    "open_store",
]

_URL_FORMS = "use file:///absolute/directory or s3://bucket/optional/prefix"


def open_store(url: str, s3: S3Options | None = None) -> ObjectStore:
    """Open the object store at ``url``: ``file:///abs/path`` (created if missing) or ``s3://...``.

    ``s3`` configures the S3 connection; without it, defaults and the ``AWS_*`` environment apply.
    Raises StorageError when the URL is not one of those forms.
    """
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise StorageError(f"storage URL {url!r} must not have a query or fragment; {_URL_FORMS}")
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise StorageError(f"storage URL {url!r} names a remote host; {_URL_FORMS}")
        if not parts.path.startswith("/"):
            raise StorageError(f"storage URL {url!r} needs an absolute path; {_URL_FORMS}")
        return ObstoreObjectStore.local(Path(unquote(parts.path)), url)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise StorageError(f"storage URL {url!r} has no bucket; {_URL_FORMS}")
        prefix = unquote(parts.path).strip("/")
        try:
            validate_prefix(prefix)
        except InvalidKey as exc:
            raise StorageError(f"storage URL {url!r} has an invalid prefix: {exc}") from exc
        return ObstoreObjectStore.s3(parts.netloc, prefix, s3 or S3Options(), url)
    raise StorageError(f"unsupported storage URL {url!r}; {_URL_FORMS}")
