"""Persistence of jobs and tasks. Every state change is its own short transaction, so a killed
process loses at most the task it was running."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from matinee.jobs.errors import JobNotFound
from matinee.jobs.models import Job, JobState, Task, TaskState

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class NewTask:
    name: str
    fn: str
    spec: dict[str, Any]


class JobStore:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock = utc_now) -> None:
        self._sessions = sessions
        self._clock = clock

    def create(
        self, kind: str, title: str, params: dict[str, Any], job_id: str | None = None
    ) -> Job:
        now = self._clock()
        job = Job(
            id=job_id or str(uuid.uuid4()),
            kind=kind,
            title=title,
            state=JobState.QUEUED,
            stage="",
            params=params,
            facts={},
            created_at=now,
            updated_at=now,
        )
        with self._sessions.begin() as s:
            s.add(job)
        return job

    def get(self, job_id: str) -> Job:
        with self._sessions() as s:
            job = s.get(Job, job_id, options=[selectinload(Job.tasks)])
            if job is None:
                raise JobNotFound(f"no job with id {job_id}")
            return job

    def find(self, prefix: str) -> Job:
        """A job by id or unique id prefix (as a user types it from ``matinee jobs``)."""
        with self._sessions() as s:
            ids = s.scalars(select(Job.id).where(Job.id.startswith(prefix)).limit(2)).all()
        if len(ids) != 1:
            raise JobNotFound(
                f"no job matches {prefix!r}" if not ids else f"{prefix!r} matches several jobs"
            )
        return self.get(ids[0])

    def recent(self, limit: int = 20) -> Sequence[Job]:
        with self._sessions() as s:
            stmt = (
                select(Job)
                .options(selectinload(Job.tasks))
                .order_by(Job.created_at.desc())
                .limit(limit)
            )
            return s.scalars(stmt).all()

    def unfinished(self) -> Sequence[str]:
        with self._sessions() as s:
            stmt = (
                select(Job.id)
                .where(Job.state.in_([JobState.QUEUED, JobState.RUNNING]))
                .order_by(Job.created_at)
            )
            return s.scalars(stmt).all()

    def set_state(
        self, job_id: str, state: JobState, *, stage: str | None = None, error: str | None = None
    ) -> None:
        now = self._clock()
        values: dict[str, Any] = {"state": state, "updated_at": now}
        if stage is not None:
            values["stage"] = stage
        if error is not None:
            values["error"] = error
        if state in (JobState.SUCCEEDED, JobState.FAILED):
            values["finished_at"] = now
        with self._sessions.begin() as s:
            s.execute(update(Job).where(Job.id == job_id).values(**values))

    def add_facts(self, job_id: str, facts: dict[str, Any]) -> None:
        with self._sessions.begin() as s:
            job = s.get(Job, job_id)
            if job is None:
                raise JobNotFound(f"no job with id {job_id}")
            job.facts = {**job.facts, **facts}
            job.updated_at = self._clock()

    def mark_published(self, job_id: str) -> None:
        """Note when the job's result went live (its follow-ups may still be running)."""
        self.add_facts(job_id, {"published_at": self._clock().isoformat()})

    def ensure_tasks(self, job_id: str, stage: str, tasks: Sequence[NewTask]) -> None:
        """Create a stage's tasks unless they exist already (a resumed job keeps its own)."""
        with self._sessions.begin() as s:
            existing = set(s.scalars(select(Task.name).where(Task.job_id == job_id)).all())
            for t in tasks:
                if t.name not in existing:
                    s.add(
                        Task(
                            job_id=job_id,
                            stage=stage,
                            name=t.name,
                            fn=t.fn,
                            state=TaskState.PENDING,
                            attempts=0,
                            spec=t.spec,
                        )
                    )

    def tasks(self, job_id: str, stage: str | None = None) -> Sequence[Task]:
        with self._sessions() as s:
            stmt = select(Task).where(Task.job_id == job_id).order_by(Task.id)
            if stage is not None:
                stmt = stmt.where(Task.stage == stage)
            return s.scalars(stmt).all()

    def reset_interrupted(self, job_id: str) -> int:
        """Tasks left RUNNING by a process that died go back to PENDING."""
        with self._sessions.begin() as s:
            result = s.execute(
                update(Task)
                .where(Task.job_id == job_id, Task.state == TaskState.RUNNING)
                .values(state=TaskState.PENDING, progress=0.0)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def start_task(self, task_id: int) -> None:
        with self._sessions.begin() as s:
            task = s.get_one(Task, task_id)
            task.state = TaskState.RUNNING
            task.attempts += 1
            task.progress = 0.0
            task.error = None
            task.started_at = self._clock()

    def finish_task(self, task_id: int, result: dict[str, Any]) -> None:
        with self._sessions.begin() as s:
            task = s.get_one(Task, task_id)
            task.state = TaskState.DONE
            task.result = result
            task.progress = 1.0
            task.finished_at = self._clock()

    def fail_task(self, task_id: int, error: str, *, retry: bool) -> None:
        with self._sessions.begin() as s:
            task = s.get_one(Task, task_id)
            task.state = TaskState.PENDING if retry else TaskState.FAILED
            task.error = error
            task.finished_at = self._clock()

    def set_progress(self, task_id: int, progress: float) -> None:
        with self._sessions.begin() as s:
            s.execute(update(Task).where(Task.id == task_id).values(progress=progress))

    def tasks_by_id(self, ids: Sequence[int]) -> Sequence[Task]:
        with self._sessions() as s:
            return s.scalars(select(Task).where(Task.id.in_(ids))).all()
