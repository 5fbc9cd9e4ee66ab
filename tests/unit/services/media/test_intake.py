"""From a finished upload to its job: assembled once, recorded once (also when two instances
race), and assembled again when an instance stopped halfway."""

from __future__ import annotations

from pathlib import Path

import pytest

from matinee.clock import FakeClock
from matinee.platform import Platform
from matinee.services.media.intake import STALE_ASSEMBLY_S, Intake, master_key
from matinee.services.media.tus import UploadMetadata
from matinee.services.media.upload_store import UploadInfo, UploadStore
from matinee.settings import Settings

FORM = UploadMetadata(filename="clip.MP4", title="Clip", title_id="t-9")


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    return Platform(Settings(data_dir=tmp_path / "data"))


def finished(store: UploadStore, data: bytes = b"0123456789") -> UploadInfo:
    info = store.create(len(data), FORM, "admin-1")
    store.put_part(info.id, 0, data)
    return info


def test_a_finished_upload_becomes_one_job(platform: Platform) -> None:
    store = UploadStore(platform.objects, FakeClock(5000.0))
    intake = Intake(platform, store, run_jobs=False)
    info = finished(store)
    assert intake.job(info.id) is None
    assert intake.complete(info.id) == info.id
    job = intake.job(info.id)
    assert job is not None
    assert job.params["master_key"] == master_key(info) == f"masters/{info.id}/source.mp4"
    assert job.params["metadata"] == {
        "filename": "clip.MP4",
        "title": "Clip",
        "title_id": "t-9",
        "upload_id": info.id,
        "uploaded_by": "admin-1",
        "size": 10,
    }
    assert platform.objects.read_bytes(master_key(info)) == b"0123456789"
    assert store.parts(info.id) == []
    assert store.assembling_since(info.id) is None
    # Again (a second status request, a second instance): nothing is redone.
    platform.objects.put_bytes(master_key(info), b"left alone")
    intake.complete(info.id)
    assert platform.objects.read_bytes(master_key(info)) == b"left alone"


def test_a_twin_that_recorded_first_wins(platform: Platform) -> None:
    """Two instances assembled the same upload; the second finds the job already there."""
    store = UploadStore(platform.objects, FakeClock())
    intake = Intake(platform, store, run_jobs=False)
    info = finished(store)
    platform.record_ingest(info.id, master_key(info), "clip.MP4", "First")
    assert intake._assemble_and_record(info.id) is False
    job = intake.job(info.id)
    assert job is not None
    assert job.title == "First"
    assert store.parts(info.id)  # the winner clears them


def test_an_interrupted_assembly_is_picked_up_again(platform: Platform) -> None:
    clock = FakeClock(5000.0)
    store = UploadStore(platform.objects, clock)
    intake = Intake(platform, store, run_jobs=False)
    info = finished(store)
    store.mark_assembling(info.id)  # an instance began, then stopped
    intake.recover(info.id)
    assert not intake.assembling(info.id)  # too recent: maybe still at work elsewhere
    clock.advance(STALE_ASSEMBLY_S + 1)
    intake.recover(info.id)
    assert intake.wait_idle(30)
    assert intake.job(info.id) is not None

    fresh = finished(store)  # complete, and nobody ever began assembling it
    intake.recover(fresh.id)
    assert intake.wait_idle(30)
    assert intake.job(fresh.id) is not None
    intake.stop()


def test_a_broken_upload_records_no_job(platform: Platform) -> None:
    store = UploadStore(platform.objects, FakeClock())
    intake = Intake(platform, store, run_jobs=False)
    info = store.create(20, FORM, "admin-1")
    store.put_part(info.id, 0, b"only ten b")
    intake.finish(info.id)
    assert intake.wait_idle(30)
    assert intake.job(info.id) is None
    assert not platform.objects.exists(master_key(info))
    assert store.assembling_since(info.id) is None
    assert not intake.assembling(info.id)
    intake.stop()
