"""Resumable uploads kept in the object store, so any media instance can take the next chunk
and an upload outlives a restart.

One upload is a folder ``uploads/<id>/``:

* ``info.json``: the declared length, the form's metadata, who started it and when;
* ``parts/<start offset, 20 digits>``: the bytes, in pieces of at most ``piece_bytes`` (a
  PATCH body is cut into pieces as it arrives; a piece is written whole, so a dropped
  connection keeps every byte that came before it);
* ``active``: when the last piece was written;
* ``assembling``: written while the parts are being joined into the master.

An unfinished upload expires ``ttl_s`` after its last byte arrived (tus expiration:
``Upload-Expires``); :meth:`UploadStore.sweep` deletes the expired ones. An upload whose job is
recorded is finished and never expires (its parts are gone; ``info.json`` maps it to its job).

The offset is where the parts, in order, stop touching: pieces written twice by racing
requests overlap harmlessly (both carry the same bytes of the same file). The master is
assembled by streaming the parts, in order, into one object; nothing holds it in memory.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from matinee.clock import Clock
from matinee.services.media.errors import UploadIncomplete, UploadNotFound
from matinee.services.media.tus import UploadMetadata
from matinee.storage import ObjectInfo, ObjectNotFound, ObjectStore

UPLOADS = "uploads"
PIECE_BYTES = 4 * 1024 * 1024
DEFAULT_TTL_S = 24 * 3600.0
_OFFSET_DIGITS = 20
_ACTIVE = "active"  # the time of the last piece written
_ASSEMBLING = "assembling"
_CHUNKS_AHEAD = 4  # chunks (of about 1 MiB) read ahead of the writer while assembling


@dataclass(frozen=True)
class UploadInfo:
    """An upload as it was created."""

    id: str
    length: int
    metadata: UploadMetadata
    created_at: float
    created_by: str

    def to_json(self) -> bytes:
        body = {
            "id": self.id,
            "length": self.length,
            "metadata": self.metadata.as_dict(),
            "created_at": self.created_at,
            "created_by": self.created_by,
        }
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> UploadInfo:
        body: dict[str, Any] = json.loads(data)
        meta = body["metadata"]
        return cls(
            id=str(body["id"]),
            length=int(body["length"]),
            metadata=UploadMetadata(
                filename=str(meta["filename"]),
                title=str(meta["title"]),
                title_id=meta.get("title_id"),
            ),
            created_at=float(body["created_at"]),
            created_by=str(body["created_by"]),
        )


@dataclass(frozen=True)
class Part:
    """One stored piece: ``size`` bytes of the file from ``start``."""

    start: int
    size: int
    key: str

    @property
    def end(self) -> int:
        return self.start + self.size


def _time_body(clock: Clock) -> bytes:
    return json.dumps({"since": clock.time()}).encode()


def _read_time(data: bytes) -> float:
    try:
        return float(json.loads(data)["since"])
    except (ValueError, KeyError, TypeError):
        return 0.0  # unreadable: as good as stale


def valid_id(upload_id: str) -> bool:
    """Upload ids are UUIDs in their canonical form (they become the job's and asset's id)."""
    try:
        return str(uuid.UUID(upload_id)) == upload_id
    except ValueError:
        return False


def contiguous_end(parts: list[Part]) -> int:
    """How far the parts (sorted by start) cover the file from byte 0 without a gap."""
    end = 0
    for part in parts:
        if part.start > end:
            break
        end = max(end, part.end)
    return end


class UploadStore:
    """Uploads in the object store (all calls block: run them off the event loop)."""

    def __init__(
        self,
        objects: ObjectStore,
        clock: Clock,
        piece_bytes: int = PIECE_BYTES,
        ttl_s: float = DEFAULT_TTL_S,
    ) -> None:
        self.objects = objects
        self.clock = clock
        self.piece_bytes = piece_bytes
        self.ttl_s = ttl_s

    @staticmethod
    def folder(upload_id: str) -> str:
        return f"{UPLOADS}/{upload_id}"

    def create(self, length: int, metadata: UploadMetadata, created_by: str) -> UploadInfo:
        info = UploadInfo(
            id=str(uuid.uuid4()),
            length=length,
            metadata=metadata,
            created_at=self.clock.time(),
            created_by=created_by,
        )
        self.objects.put_bytes(f"{self.folder(info.id)}/info.json", info.to_json())
        return info

    def info(self, upload_id: str) -> UploadInfo:
        """The upload's info; UploadNotFound for an unknown (or terminated) id."""
        if not valid_id(upload_id):
            raise UploadNotFound(f"There is no upload with id {upload_id[:40]!r}.")
        try:
            data = self.objects.read_bytes(f"{self.folder(upload_id)}/info.json")
        except ObjectNotFound as exc:
            raise UploadNotFound(f"There is no upload with id {upload_id!r}.") from exc
        return UploadInfo.from_json(data)

    def parts(self, upload_id: str) -> list[Part]:
        prefix = f"{self.folder(upload_id)}/parts/"
        found = []
        for obj in self.objects.list(prefix):
            name = obj.key[len(prefix) :]
            if name.isdigit() and len(name) == _OFFSET_DIGITS:
                found.append(Part(int(name), obj.size, obj.key))
        return sorted(found, key=lambda p: (p.start, -p.size))

    def offset(self, upload_id: str) -> int:
        """How many bytes from the start of the file the server holds."""
        return contiguous_end(self.parts(upload_id))

    def last_activity(self, info: UploadInfo) -> float:
        """When the upload last moved: its creation, its last piece or its assembly marker (the
        store's clock, not file times, so an injected clock governs expiry)."""
        times = [info.created_at]
        for marker in (_ACTIVE, _ASSEMBLING):
            with contextlib.suppress(ObjectNotFound):
                body = self.objects.read_bytes(f"{self.folder(info.id)}/{marker}")
                times.append(_read_time(body))
        return max(times)

    def expires_at(self, info: UploadInfo) -> float:
        """When the unfinished upload expires: ``ttl_s`` after it last moved."""
        return self.last_activity(info) + self.ttl_s

    def sweep(self, finished: Callable[[str], bool]) -> list[str]:
        """Delete every unfinished upload past its expiry; the ids deleted. ``finished(id)``
        says whether an upload's job is recorded (those are kept)."""
        ids = {obj.key[len(UPLOADS) + 1 :].split("/", 1)[0] for obj in self.objects.list(UPLOADS)}
        now = self.clock.time()
        deleted = []
        for upload_id in sorted(i for i in ids if valid_id(i)):
            try:
                info = self.info(upload_id)
            except UploadNotFound:
                continue  # nothing says how old it is: never guess
            if now < self.expires_at(info) or finished(upload_id):
                continue
            self.delete(upload_id)
            deleted.append(upload_id)
        return deleted

    def put_part(self, upload_id: str, start: int, data: bytes) -> None:
        key = f"{self.folder(upload_id)}/parts/{start:0{_OFFSET_DIGITS}d}"
        self.objects.put_bytes(key, data)
        self.objects.put_bytes(f"{self.folder(upload_id)}/{_ACTIVE}", _time_body(self.clock))

    def master_chunks(self, info: UploadInfo) -> Iterator[bytes]:
        """The whole file, streamed from the parts in order (UploadIncomplete on a gap)."""
        end = 0
        for part in self.parts(info.id):
            if part.start > end:
                break
            if part.end <= end:
                continue  # a piece another request wrote over the same bytes
            yield from self.objects.iter_bytes(part.key, start=end - part.start)
            end = part.end
        if end != info.length:
            raise UploadIncomplete(
                f"Upload {info.id} holds {end} of its {info.length} bytes; it cannot be "
                "assembled yet."
            )

    def assemble(self, info: UploadInfo, key: str) -> ObjectInfo:
        """Stream the parts, in order, into the object ``key`` (written whole or not at all).

        The object store's writer pulls chunks from inside its own I/O runtime, where no other
        store call may run; so a helper thread reads the parts and hands the chunks over
        through a short queue (memory stays a few chunks, whatever the size)."""
        chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=_CHUNKS_AHEAD)
        stop = threading.Event()

        def hand_over(item: bytes | BaseException | None) -> bool:
            while not stop.is_set():
                try:
                    chunks.put(item, timeout=0.1)
                except queue.Full:
                    continue
                return True
            return False

        def read() -> None:
            try:
                for chunk in self.master_chunks(info):
                    if not hand_over(chunk):
                        return
            except BaseException as exc:  # noqa: BLE001 - handed to the writer, raised there
                hand_over(exc)
            else:
                hand_over(None)

        def pull() -> Iterator[bytes]:
            while True:
                item = chunks.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item

        reader = threading.Thread(target=read, name=f"assemble-{info.id[:8]}", daemon=True)
        reader.start()
        try:
            return self.objects.put_stream(key, pull())
        finally:
            stop.set()
            reader.join()

    def discard_parts(self, upload_id: str) -> int:
        return self.objects.delete_prefix(f"{self.folder(upload_id)}/parts/")

    def delete(self, upload_id: str) -> int:
        """Remove the upload and all its parts; how many objects went."""
        return self.objects.delete_prefix(f"{self.folder(upload_id)}/")

    # --- the assembly marker (so another instance does not assemble the same upload) -----

    def mark_assembling(self, upload_id: str) -> None:
        self.objects.put_bytes(f"{self.folder(upload_id)}/{_ASSEMBLING}", _time_body(self.clock))

    def assembling_since(self, upload_id: str) -> float | None:
        try:
            data = self.objects.read_bytes(f"{self.folder(upload_id)}/{_ASSEMBLING}")
        except ObjectNotFound:
            return None
        return _read_time(data)

    def clear_assembling(self, upload_id: str) -> None:
        self.objects.delete(f"{self.folder(upload_id)}/{_ASSEMBLING}")
