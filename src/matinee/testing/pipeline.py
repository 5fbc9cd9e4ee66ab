"""Helpers for tests that run the ingest pipeline."""

from __future__ import annotations

from pathlib import Path

from matinee.jobs.models import JobState
from matinee.platform import Platform, SubtitleFile


def ingest(
    platform: Platform, master: Path, title: str = "Test", subtitles: tuple[SubtitleFile, ...] = ()
) -> tuple[str, JobState]:
    """Submit a master and run its job to the end in this process; returns (job id, state)."""
    job = platform.submit(master, title, subtitles)
    with platform.runner() as runner:
        return job.id, runner.run(job.id)
