"""Uploads in the object store: parts, the offset they add up to (overlaps and gaps), the
master streamed from them, and removal."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from matinee.clock import FakeClock
from matinee.services.media.errors import UploadIncomplete, UploadNotFound
from matinee.services.media.tus import UploadMetadata
from matinee.services.media.upload_store import (
    DEFAULT_TTL_S,
    Part,
    UploadStore,
    contiguous_end,
    valid_id,
)
from matinee.services.media.uploads import UploadSweeper
from matinee.storage import open_store
from matinee.storage.errors import StorageUnavailable

FORM = UploadMetadata(filename="clip.mp4", title="Clip", title_id="t-1")


@pytest.fixture
def store(tmp_path: Path) -> UploadStore:
    return UploadStore(open_store(f"file://{tmp_path}/objects"), FakeClock(1000.0), piece_bytes=4)


def test_an_upload_is_found_again_by_a_fresh_store(store: UploadStore, tmp_path: Path) -> None:
    info = store.create(10, FORM, "admin-1")
    assert valid_id(info.id)
    again = UploadStore(open_store(f"file://{tmp_path}/objects"), FakeClock())
    assert again.info(info.id) == info
    assert (info.created_at, info.created_by, info.metadata) == (1000.0, "admin-1", FORM)
    for unknown in ("nope", "../../etc", info.id.upper(), "9b2f0c4e-5d1a-4c7e-8f3b-2a6d9e1c0b74"):
        with pytest.raises(UploadNotFound):
            store.info(unknown)


def test_the_offset_is_where_the_parts_stop_touching(store: UploadStore) -> None:
    info = store.create(10, FORM, "admin-1")
    assert store.offset(info.id) == 0
    store.put_part(info.id, 0, b"0123")
    store.put_part(info.id, 6, b"67")  # after a gap: not counted
    assert store.offset(info.id) == 4
    store.put_part(info.id, 2, b"2345")  # overlaps the first piece (a racing retry)
    assert store.offset(info.id) == 8
    with pytest.raises(UploadIncomplete, match="holds 8 of its 10 bytes"):
        list(store.master_chunks(info))
    store.put_part(info.id, 8, b"89")
    assert store.offset(info.id) == 10
    assert b"".join(store.master_chunks(info)) == b"0123456789"


def test_contiguous_end() -> None:
    def parts(*spans: tuple[int, int]) -> list[Part]:
        return [Part(s, n, f"k{s}") for s, n in spans]

    assert contiguous_end([]) == 0
    assert contiguous_end(parts((1, 5))) == 0
    assert contiguous_end(parts((0, 5), (0, 3), (5, 1), (4, 10))) == 14


def test_termination_removes_everything(store: UploadStore) -> None:
    info = store.create(8, FORM, "admin-1")
    other = store.create(8, FORM, "admin-1")
    store.put_part(info.id, 0, b"0123")
    store.put_part(info.id, 4, b"4567")
    store.mark_assembling(info.id)
    assert store.assembling_since(info.id) == 1000.0
    assert store.delete(info.id) == 5  # info, two parts, the activity time, the marker
    with pytest.raises(UploadNotFound):
        store.info(info.id)
    assert store.parts(info.id) == []
    assert store.info(other.id) == other


def test_the_assembly_marker(store: UploadStore) -> None:
    info = store.create(1, FORM, "admin-1")
    assert store.assembling_since(info.id) is None
    store.mark_assembling(info.id)
    store.clock.advance(5)  # type: ignore[attr-defined]
    assert store.assembling_since(info.id) == 1000.0
    store.objects.put_bytes(f"uploads/{info.id}/assembling", b"garbage")
    assert store.assembling_since(info.id) == 0.0
    store.clear_assembling(info.id)
    assert store.assembling_since(info.id) is None


def test_the_master_is_assembled_whole_or_not_at_all(store: UploadStore) -> None:
    info = store.create(10, FORM, "admin-1")
    for start in (0, 4, 8):
        store.put_part(info.id, start, b"0123456789"[start : start + 4])
    written = store.assemble(info, "masters/x/source.mp4")
    assert written.size == 10
    assert store.objects.read_bytes("masters/x/source.mp4") == b"0123456789"

    short = store.create(12, FORM, "admin-1")
    store.put_part(short.id, 0, b"0123")
    with pytest.raises(UploadIncomplete, match="holds 4 of its 12 bytes"):
        store.assemble(short, "masters/y/source.mp4")
    assert not store.objects.exists("masters/y/source.mp4")

    empty = store.create(0, FORM, "admin-1")
    assert store.assemble(empty, "masters/z/source.mp4").size == 0


def test_an_unfinished_upload_expires_a_ttl_after_it_last_moved(store: UploadStore) -> None:
    info = store.create(8, FORM, "admin-1")
    assert store.expires_at(info) == 1000.0 + DEFAULT_TTL_S
    store.clock.advance(1800)  # type: ignore[attr-defined]
    store.put_part(info.id, 0, b"0123")
    assert store.expires_at(info) == 2800.0 + DEFAULT_TTL_S
    store.clock.advance(60)  # type: ignore[attr-defined]
    store.mark_assembling(info.id)
    assert store.expires_at(info) == 2860.0 + DEFAULT_TTL_S


def test_the_sweep_deletes_expired_unfinished_uploads_only(store: UploadStore) -> None:
    clock: FakeClock = store.clock  # type: ignore[assignment]
    stale = store.create(8, FORM, "admin-1")
    store.put_part(stale.id, 0, b"0123")
    finished = store.create(8, FORM, "admin-1")  # its job is recorded: kept for good
    assembling = store.create(8, FORM, "admin-1")
    store.put_part(assembling.id, 0, b"01234567")
    store.objects.put_bytes("uploads/not-an-upload/x", b"?")  # never touched

    def done(upload_id: str) -> bool:
        return upload_id == finished.id

    assert store.sweep(done) == []  # nothing old yet
    clock.advance(DEFAULT_TTL_S - 1)
    store.put_part(stale.id, 4, b"45")  # a byte arrives just in time: a new day to live
    clock.advance(2)
    fresh = store.create(8, FORM, "admin-1")
    store.mark_assembling(assembling.id)  # its assembler is at work right now
    assert store.sweep(done) == []
    clock.advance(DEFAULT_TTL_S)
    store.clear_assembling(assembling.id)  # ... and gave up

    assert set(store.sweep(done)) == {stale.id, fresh.id, assembling.id}
    for gone in (stale, fresh, assembling):
        with pytest.raises(UploadNotFound):
            store.info(gone.id)
        assert store.parts(gone.id) == []
    assert store.info(finished.id) == finished
    assert store.objects.exists("uploads/not-an-upload/x")


class _Intake:
    """The one thing the sweeper asks of the intake: whether an upload's job is recorded."""

    def __init__(self, finished: set[str]) -> None:
        self.finished = finished

    def job(self, upload_id: str) -> object | None:
        return object() if upload_id in self.finished else None


def test_the_sweeper_runs_until_stopped_and_outlives_a_failing_store(store: UploadStore) -> None:
    kept = store.create(8, FORM, "admin-1")
    gone = store.create(8, FORM, "admin-1")
    store.clock.advance(DEFAULT_TTL_S + 1)  # type: ignore[attr-defined]
    sweeper = UploadSweeper(store, _Intake({kept.id}), interval=0.01)  # type: ignore[arg-type]
    calls: list[str] = []
    real = store.sweep

    def flaky(finished: Callable[[str], bool]) -> list[str]:
        calls.append("sweep")
        if len(calls) == 1:
            raise StorageUnavailable("the object store is away")
        return real(finished)

    store.sweep = flaky  # type: ignore[method-assign]

    async def main() -> None:
        async with sweeper.lifespan():
            for _ in range(200):
                if len(calls) >= 2:
                    break
                await asyncio.sleep(0.01)

    asyncio.run(main())
    assert len(calls) >= 2  # the first pass failed; the next one ran anyway
    assert store.info(kept.id) == kept
    with pytest.raises(UploadNotFound):
        store.info(gone.id)
