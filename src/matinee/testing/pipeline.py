"""Helpers for tests that run the ingest pipeline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from matinee.jobs.models import JobState
from matinee.platform import Platform, SubtitleFile

# The type of the `make_platform` fixture (tests/conftest.py).
MakePlatform = Callable[..., Platform]


def ingest(
    platform: Platform, master: Path, title: str = "Test", subtitles: tuple[SubtitleFile, ...] = ()
) -> tuple[str, JobState]:
    """Submit a master and run its job to the end in this process; returns (job id, state)."""
    job = platform.submit(master, title, subtitles)
    with platform.runner() as runner:
        return job.id, runner.run(job.id)
