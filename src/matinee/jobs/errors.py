"""Errors of the job engine.

JobError
├── JobNotFound      no job with that id
└── TaskFailed       a task failed for good (after its retries, or at once for bad input)
"""

from __future__ import annotations

from matinee.errors import MatineeError


class JobError(MatineeError):
    """Base of job-engine errors."""


class JobNotFound(JobError):
    """No job with that id."""


class TaskFailed(JobError):
    """A task failed for good; the message carries the tool's error in plain words."""
