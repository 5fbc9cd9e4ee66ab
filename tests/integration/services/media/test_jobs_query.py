"""The jobs list's keyset pages on every database: newest first, ties on the creation time
broken by id, nothing given twice or skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from matinee.jobs.store import JobStore
from matinee.platform import Platform
from matinee.services.media.jobs_api import job_page
from matinee.settings import Settings

T0 = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)


def test_pages_walk_every_job_once(db_url: str, tmp_path: Path) -> None:
    platform = Platform(Settings(data_dir=tmp_path / "data", database_url=db_url), migrate=False)
    times = iter([T0, T0, T0 + timedelta(microseconds=1), T0 + timedelta(seconds=5), T0])
    store = JobStore(platform.sessions, clock=lambda: next(times))
    ids = [f"job-{n}" for n in "bcdea"]
    for job_id in ids:
        store.create("ingest", job_id.upper(), {"metadata": {"title": job_id}}, job_id=job_id)
    # Newest first: e (T0+5s), d (T0+1us), then c, b, a at T0 by id, descending.
    expected = ["job-e", "job-d", "job-c", "job-b", "job-a"]
    for limit in (1, 2, 3, 5, 100):
        seen: list[str] = []
        cursor = None
        while True:
            page = job_page(platform, limit, cursor)
            seen += [j.id for j in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == expected, limit
    first = job_page(platform, 1, None).items[0]
    assert (first.title, first.metadata, first.created_at) == (
        "JOB-E",
        {"title": "job-e"},
        T0 + timedelta(seconds=5),
    )
    platform.engine.dispose()
