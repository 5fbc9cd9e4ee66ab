"""The durable job runner: drives a pipeline's stages, one barrier at a time, through a queue.

State lives in the database, so a runner that is killed and started again resumes the job and
redoes only the tasks that had not finished. A failing task is retried a bounded number of
times; bad input fails at once. Either way the job ends with the error in plain words.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from matinee.errors import MatineeError
from matinee.jobs.errors import TaskFailed
from matinee.jobs.models import Job, JobState, TaskState
from matinee.jobs.queue import Queue, TaskOutcome
from matinee.jobs.store import JobStore, NewTask

log = logging.getLogger(__name__)

Results = Mapping[str, dict[str, Any]]


class Pipeline(Protocol):
    """What a kind of job does: its stages, how each is split into tasks, how it ends.

    A job publishes after its last stage, then runs its follow-ups (work that needs what was
    published but not for it to be used, such as scoring its quality): the result is live while
    they run, and a follow-up that fails is reported on the job without unpublishing anything.
    """

    @property
    def stages(self) -> Sequence[str]:
        """Stage names, run in order with a barrier between them, before publication."""

    @property
    def followups(self) -> Sequence[str]:
        """Stages run after publication, in order."""

    def plan(self, stage: str, job: Job, results: Results) -> list[NewTask]:
        """The tasks of ``stage``, given the results of every finished task so far."""

    def finish(self, job: Job, results: Results) -> None:
        """Publish what the tasks made (one transaction). Called again, it publishes nothing
        more: a runner killed after publishing but before noting it calls it again."""

    def complete(self, job: Job, results: Results) -> None:
        """Record what the follow-ups made (those that failed left no result) and tidy up."""

    def discard(self, job: Job) -> None:
        """Remove everything a failed job wrote, so nothing is left half-published."""


class Runner:
    def __init__(self, store: JobStore, queue: Queue, pipelines: Mapping[str, Pipeline], *,
                 max_attempts: int = 3) -> None:  # fmt: skip
        self._store = store
        self._queue = queue
        self._pipelines = pipelines
        self._max_attempts = max_attempts

    def run_pending(self) -> list[str]:
        """Run every queued or interrupted job to its end; returns their ids."""
        ids = list(self._store.unfinished())
        for job_id in ids:
            self.run(job_id)
        return ids

    def run(self, job_id: str) -> JobState:
        job = self._store.get(job_id)
        if job.state in (JobState.SUCCEEDED, JobState.FAILED):
            return job.state
        pipeline = self._pipelines[job.kind]
        resumed = self._store.reset_interrupted(job_id)
        if resumed:
            log.info("job %s: resuming; %d interrupted task(s) will run again", job_id, resumed)
        self._store.set_state(job_id, JobState.RUNNING)
        if "published_at" not in self._store.get(job_id).facts:  # not yet, or not resumed
            try:
                for stage in pipeline.stages:
                    self._stage(job_id, pipeline, stage)
                self._store.set_state(job_id, JobState.RUNNING, stage="publish")
                pipeline.finish(self._store.get(job_id), self._results(job_id))
                self._store.mark_published(job_id)
            except MatineeError as exc:
                log.warning("job %s failed: %s", job_id, exc)
                pipeline.discard(self._store.get(job_id))
                self._store.set_state(job_id, JobState.FAILED, error=str(exc))
                return JobState.FAILED
        # Published: from here on nothing is undone, and what fails is reported on the job.
        problems = []
        try:
            for stage in pipeline.followups:
                self._stage(job_id, pipeline, stage)
        except MatineeError as exc:
            problems.append(str(exc))
        try:
            pipeline.complete(self._store.get(job_id), self._results(job_id))
        except MatineeError as exc:
            problems.append(f"could not tidy up: {exc}")
        error = f"published, but {'; '.join(problems)}" if problems else None
        if error:
            log.warning("job %s: %s", job_id, error)
        self._store.set_state(job_id, JobState.SUCCEEDED, stage="done", error=error)
        return JobState.SUCCEEDED

    def _stage(self, job_id: str, pipeline: Pipeline, stage: str) -> None:
        self._store.set_state(job_id, JobState.RUNNING, stage=stage)
        new = pipeline.plan(stage, self._store.get(job_id), self._results(job_id))
        self._store.ensure_tasks(job_id, stage, new)
        self._run_stage(job_id, stage)

    def _results(self, job_id: str) -> dict[str, dict[str, Any]]:
        return {
            t.name: t.result or {} for t in self._store.tasks(job_id) if t.state == TaskState.DONE
        }

    def _run_stage(self, job_id: str, stage: str) -> None:
        inflight: dict[Future[TaskOutcome], tuple[int, str]] = {}

        def submit_pending() -> None:
            for task in self._store.tasks(job_id, stage):
                if task.state == TaskState.PENDING:
                    self._store.start_task(task.id)
                    try:
                        future = self._queue.submit(task.id, task.fn, task.spec)
                    except BrokenProcessPool as exc:
                        # A worker died while no task was in flight, so no future reported it and
                        # the pool now refuses work. Fail this task as a dead worker would, so
                        # the loop below restarts the pool and requeues it with the rest.
                        future = Future()
                        future.set_exception(exc)
                        inflight[future] = (task.id, task.name)
                        return
                    inflight[future] = (task.id, task.name)

        # A failure recorded before a crash, while the job's own outcome was not yet written:
        # a resumed stage finds that task FAILED, and ends at once instead of passing it by.
        for task in self._store.tasks(job_id, stage):
            if task.state == TaskState.FAILED:
                raise TaskFailed(f"{task.name} failed: {task.error}")
        submit_pending()
        failure: TaskFailed | None = None
        while inflight:
            done, _ = wait(inflight, return_when=FIRST_COMPLETED)
            broken = False
            for fut in done:
                task_id, name = inflight.pop(fut)
                try:
                    outcome = fut.result()
                except BrokenProcessPool:
                    broken = True
                    outcome = TaskOutcome(error="the worker process running it died")
                if outcome.result is not None:
                    self._store.finish_task(task_id, outcome.result)
                    continue
                # Record every failure, even after an earlier one ended the stage: a task
                # left RUNNING in a failed job would look alive forever. The first one is raised.
                failed = self._failed(task_id, name, outcome)
                failure = failure or failed
            if broken:  # every future of a broken pool fails: requeue them all on a new pool
                for task_id, name in list(inflight.values()):
                    failed = self._failed(
                        task_id, name, TaskOutcome(error="the worker process pool was restarted")
                    )
                    failure = failure or failed
                inflight.clear()
                self._queue.restart()
            if failure is None:
                submit_pending()
        if failure is not None:
            raise failure

    def _failed(self, task_id: int, name: str, outcome: TaskOutcome) -> TaskFailed | None:
        task = next(t for t in self._store.tasks_by_id([task_id]))
        error = outcome.error or "unknown error"
        retry = not outcome.permanent and task.attempts < self._max_attempts
        self._store.fail_task(task_id, error, retry=retry)
        if retry:
            log.warning("task %s failed (attempt %d), retrying: %s", name, task.attempts, error)
            return None
        if outcome.permanent:
            return TaskFailed(error)
        return TaskFailed(f"{name} failed after {task.attempts} attempts: {error}")
