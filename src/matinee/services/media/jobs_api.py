"""The jobs API (administrators only): recent ingest jobs and one job with the progress of
each of its tasks, as the admin console polls them (every second while one runs).

Progress is the CLI's (``jobs.progress``): each stage weighs its share of the work, a task
counts its own progress, and a job is 1.0 only once it has succeeded.
"""

# No ``from __future__ import annotations`` here: FastAPI must see the dependencies that the
# route functions' annotations name, which are local to the router factory.

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from matinee.gateway.auth import Identity
from matinee.jobs.models import Job, JobState
from matinee.jobs.progress import job_fraction, task_fraction
from matinee.platform import Platform
from matinee.runtime.identity import Callers
from matinee.services.media.errors import JobsCursorInvalid
from matinee.services.media.schemas import JobOut, JobPage, TaskOut

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_CURSOR_LIST = "jobs:newest"


def job_out(job: Job) -> JobOut:
    """A job (tasks loaded) for the API."""
    metadata = job.params.get("metadata") if isinstance(job.params, dict) else None
    # Published before its follow-ups (quality scoring) end: playable while they run. (Jobs
    # that succeeded before publication was noted as a fact were published too.)
    published = job.kind == "ingest" and (
        "published_at" in job.facts or job.state == JobState.SUCCEEDED
    )
    return JobOut(
        id=job.id,
        kind=job.kind,
        title=job.title,
        state=job.state,
        stage=job.stage,
        progress=round(job_fraction(job, job.tasks), 4),
        error=job.error,
        asset_id=job.id if published else None,  # the pipeline names the asset after its job
        created_at=job.created_at,
        updated_at=job.updated_at,
        finished_at=job.finished_at,
        metadata=metadata if isinstance(metadata, dict) else {},
        tasks=[
            TaskOut(
                name=t.name,
                kind=t.fn,
                stage=t.stage,
                state=t.state,
                progress=round(task_fraction(t), 4),
                attempts=t.attempts,
                error=t.error,
            )
            for t in job.tasks
        ],
    )


def encode_cursor(job: Job) -> str:
    raw = json.dumps(
        {"list": _CURSOR_LIST, "after": [job.created_at.isoformat(), job.id]},
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (created_at, id) of the last job a page gave out."""
    refused = "cursor: this is not a cursor the jobs list gave out; start again without it."
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(data, dict) or data.get("list") != _CURSOR_LIST:
            raise JobsCursorInvalid(refused)
        at, job_id = data["after"]
        created = datetime.fromisoformat(at)
    except (ValueError, TypeError, KeyError, UnicodeError, binascii.Error) as exc:
        raise JobsCursorInvalid(refused) from exc
    if created.tzinfo is None or not isinstance(job_id, str) or len(job_id) > 36:
        raise JobsCursorInvalid(refused)
    return created, job_id


def recent_jobs(
    platform: Platform, limit: int, after: tuple[datetime, str] | None = None
) -> Sequence[Job]:
    """Up to ``limit`` jobs, newest first, older than ``after`` (tasks loaded)."""
    stmt = (
        select(Job)
        .options(selectinload(Job.tasks))
        .order_by(Job.created_at.desc(), Job.id.desc())
        .limit(limit)
    )
    if after is not None:
        at, job_id = after
        stmt = stmt.where(or_(Job.created_at < at, and_(Job.created_at == at, Job.id < job_id)))
    with platform.sessions() as session:
        return session.scalars(stmt).all()


def job_page(platform: Platform, limit: int, cursor: str | None) -> JobPage:
    after = decode_cursor(cursor) if cursor else None
    jobs = recent_jobs(platform, limit + 1, after)
    more = len(jobs) > limit
    shown = list(jobs[:limit])
    return JobPage(
        items=[job_out(j) for j in shown],
        next_cursor=encode_cursor(shown[-1]) if more and shown else None,
    )


def router(platform: Platform, callers: Callers) -> APIRouter:
    api = APIRouter(tags=["jobs"])

    @api.get("/api/media/jobs", summary="Recent jobs, newest first", response_model=JobPage)
    def list_jobs(
        _: Annotated[Identity, Depends(callers.admin)],
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, Query(max_length=400)] = None,
    ) -> JobPage:
        """Ingest jobs with their state, stage, progress and tasks (administrators only)."""
        return job_page(platform, limit, cursor)

    @api.get("/api/media/jobs/{job_id}", summary="One job and its tasks", response_model=JobOut)
    def get_job(
        _: Annotated[Identity, Depends(callers.admin)], job_id: Annotated[str, Path(max_length=36)]
    ) -> JobOut:
        """A job with the progress of each task; 404 when there is none with this id."""
        return job_out(platform.jobs.get(job_id))

    return api
