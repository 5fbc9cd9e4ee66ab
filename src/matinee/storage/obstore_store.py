"""The object store on obstore: a local directory (``LocalStore``) or S3 (``S3Store``).

Both backends run through the one class below; only their construction differs. obstore's
errors are converted here, where they enter: a missing object becomes ``ObjectNotFound`` and
everything else ``StorageUnavailable`` with the first line of obstore's message.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import obstore as obs
from obstore.exceptions import BaseError
from obstore.store import LocalStore, S3Store

from matinee.storage.base import ObjectInfo
from matinee.storage.errors import InvalidKey, ObjectNotFound, StorageError, StorageUnavailable

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from obstore import GetOptions, ObjectMeta
    from obstore.store import ClientConfig, S3Config

# S3 parts must be at least 5 MiB (except the last); files larger than one part go multipart.
PART_SIZE = 5 * 1024 * 1024
# Parts in flight per upload; bounds memory to about PART_SIZE * PARTS_IN_FLIGHT.
PARTS_IN_FLIGHT = 4
# Chunk size handed out by downloads and iter_bytes.
READ_CHUNK = 1024 * 1024
# Keys per bulk delete request (S3 DeleteObjects takes at most 1000) and per list page.
BATCH = 1000

# The local store keeps partial uploads as ``name#<digits>`` files and refuses such keys.
_PARTIAL_UPLOAD_NAME = re.compile(r"^[^#]*#\d+$")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
# Actions that only look an object up; a missing object is ObjectNotFound for them.
_LOOKUPS = frozenset({"inspect", "read", "download", "delete"})


@dataclass(frozen=True)
class S3Options:
    """How to reach an S3 API (AWS, MinIO, Ceph RGW, moto).

    Credentials left as None come from obstore's usual chain (``AWS_*`` environment variables,
    instance metadata).
    """

    endpoint: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    # Retries of connection errors and 5xx answers, with exponential backoff from 100 ms.
    max_retries: int = 3

    @property
    def allow_http(self) -> bool:
        """Plain HTTP is allowed only when the endpoint itself says ``http://``."""
        return self.endpoint is not None and self.endpoint.startswith("http://")


def validate_key(key: str) -> str:
    """Return ``key`` if it is a valid object key, else raise InvalidKey saying why.

    A key is a relative ``/``-separated path: not empty, no leading or trailing ``/``, no empty,
    ``.`` or ``..`` segments, no backslashes or control characters (NUL included), and no
    segment shaped ``name#<digits>`` (the local store reserves those for partial uploads).
    """
    if not key:
        raise InvalidKey("an object key must not be empty")
    if key.startswith("/"):
        raise InvalidKey(f"object key {key!r} must be relative (no leading '/')")
    if key.endswith("/"):
        raise InvalidKey(f"object key {key!r} must not end with '/'")
    if "\\" in key:
        raise InvalidKey(f"object key {key!r} must use '/' as separator, not a backslash")
    if _CONTROL_CHARS.search(key):
        raise InvalidKey(f"object key {key!r} must not contain control characters")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKey(f"object key {key!r} must not contain empty, '.' or '..' segments")
        if _PARTIAL_UPLOAD_NAME.match(segment):
            raise InvalidKey(f"object key {key!r} must not have a segment ending in '#<digits>'")
    return key


def validate_prefix(prefix: str) -> str:
    """Return ``prefix`` if it is empty or a valid key, optionally ending with ``/``."""
    if prefix:
        validate_key(prefix.removesuffix("/"))
    return prefix


class ObstoreObjectStore:
    """An ``ObjectStore`` over an obstore ``LocalStore`` or ``S3Store``.

    Build it with :meth:`local` or :meth:`s3` (or ``matinee.storage.open_store``).
    """

    def __init__(self, store: LocalStore | S3Store, url: str, local_root: Path | None) -> None:
        self._store = store
        self._local_root = local_root
        self.url = url

    @classmethod
    def local(cls, root: Path, url: str | None = None) -> ObstoreObjectStore:
        """A store in the directory ``root`` (created if missing)."""
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(
                f"could not create the storage directory {root}: {exc}"
            ) from exc
        # automatic_cleanup removes directories left empty by deletes, so a later key can reuse
        # the name of a former "directory".
        store = LocalStore(root, automatic_cleanup=True)
        return cls(store, url or root.as_uri(), root)

    @classmethod
    def s3(cls, bucket: str, prefix: str, options: S3Options, url: str) -> ObstoreObjectStore:
        """A store in ``bucket``, under ``prefix`` (may be empty)."""
        config: S3Config = {"region": options.region}
        if options.endpoint is not None:
            config["endpoint"] = options.endpoint
        if options.access_key_id is not None:
            config["access_key_id"] = options.access_key_id
        if options.secret_access_key is not None:
            config["secret_access_key"] = options.secret_access_key
        try:
            store = S3Store(
                bucket,
                prefix=prefix or None,
                config=config,
                client_options=_client_options(options),
                retry_config={"max_retries": options.max_retries},
            )
        except BaseError as exc:
            detail = _first_line(exc)
            raise StorageError(f"could not set up the S3 store for {url}: {detail}") from exc
        return cls(store, url, None)

    def __repr__(self) -> str:
        return f"ObstoreObjectStore({self.url!r})"

    # --- writing -------------------------------------------------------------------------

    def put_file(self, key: str, path: Path) -> ObjectInfo:
        """Upload a local file, streamed in parts (multipart for large files).

        Memory stays near ``PART_SIZE * PARTS_IN_FLIGHT`` whatever the file size.
        """
        validate_key(key)
        with path.open("rb") as file, self._converted("upload", key):
            obs.put(self._store, key, file, chunk_size=PART_SIZE, max_concurrency=PARTS_IN_FLIGHT)
        return self.head(key)

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> ObjectInfo:
        """Upload from an iterator of byte chunks, streamed in parts (always multipart).

        If ``chunks`` raises, the exception propagates and no object is written.
        """
        validate_key(key)
        with self._converted("upload", key):
            obs.put(
                self._store,
                key,
                iter(chunks),
                chunk_size=PART_SIZE,
                max_concurrency=PARTS_IN_FLIGHT,
            )
        return self.head(key)

    def put_bytes(self, key: str, data: bytes) -> ObjectInfo:
        """Upload a small object in one request."""
        validate_key(key)
        with self._converted("upload", key):
            obs.put(self._store, key, data, use_multipart=False)
        return self.head(key)

    # --- reading -------------------------------------------------------------------------

    def get_file(self, key: str, path: Path) -> ObjectInfo:
        """Download an object to a local file, streamed (atomic: a temp file then rename).

        Missing parent directories of ``path`` are created.
        """
        validate_key(key)
        with self._converted("download", key):
            result = obs.get(self._store, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Not tempfile: its 0600 mode would stick to the result; "xb" honours the umask.
        tmp_path = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
        try:
            with tmp_path.open("xb") as tmp, self._converted("download", key):
                for chunk in result.stream(min_chunk_size=READ_CHUNK):
                    tmp.write(chunk)
        except BaseException:
            tmp_path.unlink(missing_ok=True)
            raise
        tmp_path.replace(path)
        return _info(key, result.meta)

    def iter_bytes(
        self, key: str, *, start: int | None = None, end: int | None = None
    ) -> Iterator[bytes]:
        """Stream an object's bytes, optionally the range [start, end) only.

        Like a slice: a range reaching past the end is cut short, and one starting at or past
        the end (or empty) yields nothing. A missing key raises ObjectNotFound at the call,
        not at the first ``next()``.
        """
        validate_key(key)
        first = start or 0
        if first < 0 or (end is not None and end < 0):
            raise ValueError(f"byte range [{start}, {end}) must not be negative")
        if end is not None and end <= first:
            self.head(key)  # still raise ObjectNotFound for a missing key
            return iter(())
        options: GetOptions = {}
        if end is not None:
            options["range"] = (first, end)
        elif first:
            options["range"] = {"offset": first}
        try:
            result = obs.get(self._store, key, options=options)
        except BaseError as exc:
            # Both backends refuse a range starting past the end; a slice would be empty.
            if first and self.head(key).size <= first:
                return iter(())
            raise self._convert("read", key, exc) from exc
        except FileNotFoundError as exc:
            raise self._convert("read", key, exc) from exc
        return self._stream(key, result.stream(min_chunk_size=READ_CHUNK))

    def _stream(self, key: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
        with self._converted("read", key):
            yield from chunks

    def read_bytes(self, key: str) -> bytes:
        """Read a small object whole."""
        validate_key(key)
        with self._converted("read", key):
            return bytes(obs.get(self._store, key).bytes())

    def head(self, key: str) -> ObjectInfo:
        """Metadata of an object; raises ObjectNotFound.

        ``etag`` is as the backend reports it, quoted as in HTTP. On S3 a multipart upload's
        etag ends in ``-<parts>``.
        """
        validate_key(key)
        with self._converted("inspect", key):
            return _info(key, obs.head(self._store, key))

    def exists(self, key: str) -> bool:
        try:
            self.head(key)
        except ObjectNotFound:
            return False
        return True

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix`` (recursive), in no set order.

        ``prefix`` matches characters, not path segments: ``a/b`` matches ``a/b.txt`` and
        ``a/bc/d``. End it with ``/`` to mean one "directory".
        """
        validate_prefix(prefix)
        return self._list(prefix)

    def _list(self, prefix: str) -> Iterator[ObjectInfo]:
        # obstore matches whole segments, so list the enclosing "directory" and filter.
        parent = prefix.rpartition("/")[0] or None
        with self._converted("list", prefix):
            for batch in obs.list(self._store, parent, chunk_size=BATCH):
                for meta in batch:
                    if meta["path"].startswith(prefix):
                        yield _info(meta["path"], meta)

    # --- deleting ------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        """Delete one object; deleting a missing object is not an error."""
        validate_key(key)
        with contextlib.suppress(ObjectNotFound), self._converted("delete", key):
            obs.delete(self._store, key)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix`` (matched as in :meth:`list`); return the count.

        An empty prefix deletes everything in the store.
        """
        keys = [info.key for info in self.list(prefix)]
        for i in range(0, len(keys), BATCH):
            batch = keys[i : i + BATCH]
            try:
                with self._converted("delete", prefix):
                    obs.delete(self._store, batch)
            except ObjectNotFound:
                # The local store fails a bulk delete if one object vanished meanwhile.
                log.warning(
                    "bulk delete under %r in %s missed an object; deleting one by one",
                    prefix,
                    self.url,
                )
                for key in batch:
                    self.delete(key)
        return len(keys)

    def local_path(self, key: str) -> Path | None:
        """The file for ``key`` in the local directory (whether or not it exists); else None."""
        validate_key(key)
        return None if self._local_root is None else self._local_root / key

    # --- errors --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _converted(self, action: str, key: str) -> Iterator[None]:
        """Convert obstore's errors raised inside the block into StorageErrors."""
        try:
            yield
        except (BaseError, FileNotFoundError) as exc:
            raise self._convert(action, key, exc) from exc

    def _convert(self, action: str, key: str, exc: Exception) -> StorageError:
        # obstore raises the builtin FileNotFoundError for a missing object.
        if isinstance(exc, FileNotFoundError) or (
            action in _LOOKUPS and self._below_a_local_file(key)
        ):
            # Clients read this (the origin's 404): the key, never where the store lives.
            return ObjectNotFound(f"There is no object {key!r} in the object store.")
        detail = _first_line(exc)
        if "error sending request" in detail or "connect" in detail.lower():
            return StorageUnavailable(f"could not reach the object store at {self.url}: {detail}")
        return StorageUnavailable(
            f"the object store at {self.url} failed to {action} {key!r}: {detail}"
        )

    def _below_a_local_file(self, key: str) -> bool:
        """Whether a leading part of ``key`` is a file in the local directory.

        The local store then fails "Not a directory" where S3 simply has no such object.
        """
        root = self._local_root
        if root is None:
            return False
        return any((root / parent).is_file() for parent in PurePosixPath(key).parents[:-1])


def _client_options(options: S3Options) -> ClientConfig:
    return {
        "allow_http": options.allow_http,
        "connect_timeout": timedelta(seconds=5),
        # A stalled read fails after this long; it resets on every read.
        "read_timeout": timedelta(seconds=60),
        # The default (30 s) covers a whole request, body included: too short to stream a large
        # master. The read timeout above catches stalls instead.
        "timeout": timedelta(hours=6),
    }


def _first_line(exc: Exception) -> str:
    """obstore's messages end in a multi-line debug dump; the first line is the plain part."""
    return str(exc).split("\n", 1)[0].strip()


def _info(key: str, meta: ObjectMeta) -> ObjectInfo:
    return ObjectInfo(
        key=key, size=meta["size"], etag=meta["e_tag"], last_modified=meta["last_modified"]
    )
