"""The job and asset stores (sync sessions) behave the same on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from matinee.assets.models import Asset, Track
from matinee.assets.store import AssetStore
from matinee.db import make_engine, session_factory
from matinee.jobs.errors import JobNotFound
from matinee.jobs.models import JobState, TaskState
from matinee.jobs.store import JobStore, NewTask

T0 = datetime(2026, 11, 24, 12, 0, 0, 123456, tzinfo=UTC)


class TickingClock:
    """Each call is one millisecond and one microsecond later (so order needs sub-seconds)."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(microseconds=1001)
        return self.now


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield session_factory(engine)
    engine.dispose()


def test_a_job_is_created_found_and_listed(sessions: sessionmaker[Session]) -> None:
    clock = TickingClock()
    store = JobStore(sessions, clock)
    first = store.create(
        "ingest", "Sintel: Ünïcode ✓ 日本語", {"ladder": {"rungs": [1, 2]}, "x": 0.1}
    )
    second = store.create("ingest", "Second", {})

    got = store.get(first.id)
    assert got.title == "Sintel: Ünïcode ✓ 日本語"
    assert got.params == {"ladder": {"rungs": [1, 2]}, "x": 0.1}
    assert got.state is JobState.QUEUED
    assert got.created_at == first.created_at  # microseconds and UTC survive the round trip
    assert got.created_at.tzinfo is UTC
    assert store.find(first.id[:8]).id == first.id
    assert [j.id for j in store.recent()] == [second.id, first.id]
    assert list(store.unfinished()) == [first.id, second.id]
    with pytest.raises(JobNotFound):
        store.get("no-such-job")
    with pytest.raises(JobNotFound):
        store.find("zzz")


def test_job_state_facts_and_tasks_change_in_their_own_transactions(
    sessions: sessionmaker[Session],
) -> None:
    store = JobStore(sessions, TickingClock())
    job = store.create("ingest", "A title", {})
    store.set_state(job.id, JobState.RUNNING, stage="encode")
    store.add_facts(job.id, {"duration": 12.345678901234, "fps": "24000/1001"})
    store.add_facts(job.id, {"audio": ["eng", "fra"]})
    store.ensure_tasks(job.id, "encode", [NewTask("a", "encode", {"n": 1}), NewTask("b", "x", {})])
    store.ensure_tasks(job.id, "encode", [NewTask("a", "encode", {"n": 2})])  # kept as it was

    tasks = {t.name: t for t in store.tasks(job.id, "encode")}
    assert set(tasks) == {"a", "b"}
    assert tasks["a"].spec == {"n": 1}
    store.start_task(tasks["a"].id)
    store.start_task(tasks["b"].id)
    store.set_progress(tasks["a"].id, 0.123456789)
    store.finish_task(tasks["b"].id, {"bytes": 2**40})
    assert store.reset_interrupted(job.id) == 1  # "a" was still running

    by_name = {t.name: t for t in store.tasks_by_id([tasks["a"].id, tasks["b"].id])}
    assert by_name["a"].state is TaskState.PENDING
    assert by_name["a"].attempts == 1
    assert by_name["b"].state is TaskState.DONE
    assert by_name["b"].result == {"bytes": 2**40}
    store.fail_task(tasks["a"].id, "encoder crashed", retry=False)
    store.set_state(job.id, JobState.FAILED, error="a failed")

    final = store.get(job.id)
    assert final.state is JobState.FAILED
    assert final.error == "a failed"
    assert final.facts == {
        "duration": 12.345678901234,
        "fps": "24000/1001",
        "audio": ["eng", "fra"],
    }
    assert final.finished_at is not None
    assert final.finished_at > final.created_at
    assert [t.name for t in final.tasks] == ["a", "b"]
    assert list(store.unfinished()) == []


def test_an_asset_and_its_tracks_are_stored_together(sessions: sessionmaker[Session]) -> None:
    store = AssetStore(sessions)
    asset = Asset(
        id="00000000-0000-0000-0000-000000000001",
        job_id="00000000-0000-0000-0000-00000000000a",
        title="Big Buck Bunny",
        prefix="assets/1",
        hls_key="assets/1/master.m3u8",
        dash_key="assets/1/manifest.mpd",
        duration=596.4583333333334,
        width=1920,
        height=1080,
        probe={"streams": [{"codec": "h264"}]},
        created_at=T0,
        tracks=[
            Track(kind="video", name="1080p", width=1920, height=1080, vmaf_mean=95.123456789),
            Track(kind="audio", name="eng", language="eng"),
        ],
    )
    store.add(asset)

    got = store.get(asset.id)
    assert got is not None
    assert got.duration == 596.4583333333334  # a double, not a 4-byte float
    assert got.created_at == T0
    assert [(t.kind, t.name) for t in got.tracks] == [("video", "1080p"), ("audio", "eng")]
    assert got.tracks[0].vmaf_mean == 95.123456789
    assert [a.id for a in store.all()] == [asset.id]
    assert store.get("00000000-0000-0000-0000-000000000002") is None
