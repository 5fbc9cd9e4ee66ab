"""The job runner, driven through a scripted in-memory queue and pipeline, on a real SQLite
job store: retries, permanent errors, resumption after a crash, and a dead worker pool."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from matinee.db import make_engine, session_factory, upgrade
from matinee.jobs.models import Job, JobState, Task, TaskState
from matinee.jobs.queue import Queue, TaskOutcome, TaskSpec
from matinee.jobs.runner import Pipeline, Results, Runner
from matinee.jobs.store import JobStore, NewTask
from matinee.storage import StorageUnavailable


class _Never:
    """A scripted step whose future never completes (a task still running in a pool)."""


class _Refuse:
    """A scripted step where ``submit`` itself raises: the pool broke while nothing was in
    flight (a worker died while idle), so no future could report it."""


NEVER = _Never()
REFUSE = _Refuse()
Step = TaskOutcome | BaseException | _Never | _Refuse


def ok(name: str) -> TaskOutcome:
    return TaskOutcome(result={"made_by": name})


def err(message: str, *, permanent: bool = False) -> TaskOutcome:
    return TaskOutcome(error=message, permanent=permanent)


@dataclass
class ScriptedQueue:
    """Answers each submission of a task with the next scripted step, else a success."""

    script: dict[str, list[Step]] = field(default_factory=dict)
    submitted: list[str] = field(default_factory=list)
    restarts: int = 0
    shutdowns: int = 0

    def submit(self, task_id: int, fn: str, spec: TaskSpec) -> Future[TaskOutcome]:
        name = str(spec["name"])
        self.submitted.append(name)
        steps = self.script.get(name, [])
        step = steps.pop(0) if steps else ok(name)
        if isinstance(step, _Refuse):
            raise BrokenProcessPool("A child process terminated abruptly")
        future: Future[TaskOutcome] = Future()
        if isinstance(step, BaseException):
            future.set_exception(step)
        elif isinstance(step, TaskOutcome):
            future.set_result(step)
        return future

    def restart(self) -> None:
        self.restarts += 1

    def shutdown(self) -> None:
        self.shutdowns += 1


@dataclass
class FakePipeline:
    """Stages with fixed task names; records what the runner asked of it."""

    tasks_by_stage: dict[str, list[str]]
    followup_tasks: dict[str, list[str]] = field(default_factory=dict)
    finish_error: Exception | None = None
    complete_error: Exception | None = None
    planned: list[tuple[str, dict[str, dict[str, Any]]]] = field(default_factory=list)
    finished: list[dict[str, dict[str, Any]]] = field(default_factory=list)
    completed: list[dict[str, dict[str, Any]]] = field(default_factory=list)
    discarded: list[str] = field(default_factory=list)

    @property
    def stages(self) -> Sequence[str]:
        return tuple(self.tasks_by_stage)

    @property
    def followups(self) -> Sequence[str]:
        return tuple(self.followup_tasks)

    def plan(self, stage: str, job: Job, results: Results) -> list[NewTask]:
        self.planned.append((stage, dict(results)))
        names = {**self.tasks_by_stage, **self.followup_tasks}[stage]
        return [NewTask(n, "fake", {"name": n}) for n in names]

    def finish(self, job: Job, results: Results) -> None:
        if self.finish_error is not None:
            raise self.finish_error
        self.finished.append(dict(results))

    def complete(self, job: Job, results: Results) -> None:
        self.completed.append(dict(results))
        if self.complete_error is not None:
            raise self.complete_error

    def discard(self, job: Job) -> None:
        self.discarded.append(job.id)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield JobStore(session_factory(engine))
    engine.dispose()


def _runner(store: JobStore, queue: Queue, pipeline: Pipeline, *, max_attempts: int = 3) -> Runner:
    pipelines: Mapping[str, Pipeline] = {"fake": pipeline}
    return Runner(store, queue, pipelines, max_attempts=max_attempts)


def _job(store: JobStore) -> str:
    return store.create("fake", "A title", {}).id


def _tasks(store: JobStore, job_id: str) -> dict[str, Task]:
    return {t.name: t for t in store.tasks(job_id)}


def test_a_failing_task_is_retried_until_it_succeeds(store: JobStore) -> None:
    queue = ScriptedQueue({"a": [err("disk hiccup"), err("disk hiccup again")]})
    pipeline = FakePipeline({"only": ["a"]})
    job_id = _job(store)

    assert _runner(store, queue, pipeline).run(job_id) is JobState.SUCCEEDED

    a = _tasks(store, job_id)["a"]
    assert (a.state, a.attempts, a.error, a.result) == (TaskState.DONE, 3, None, ok("a").result)
    assert queue.submitted == ["a", "a", "a"]
    assert pipeline.finished == [{"a": {"made_by": "a"}}]
    assert pipeline.discarded == []
    job = store.get(job_id)
    assert (job.state, job.stage, job.error) == (JobState.SUCCEEDED, "done", None)
    assert job.finished_at is not None


def test_each_stage_is_planned_from_the_results_before_it(store: JobStore) -> None:
    queue = ScriptedQueue()
    pipeline = FakePipeline({"first": ["a", "b"], "second": ["c"]})
    job_id = _job(store)

    assert _runner(store, queue, pipeline).run(job_id) is JobState.SUCCEEDED

    assert [stage for stage, _ in pipeline.planned] == ["first", "second"]
    assert pipeline.planned[0][1] == {}
    assert pipeline.planned[1][1] == {"a": {"made_by": "a"}, "b": {"made_by": "b"}}
    assert set(pipeline.finished[0]) == {"a", "b", "c"}


def test_a_permanent_error_fails_the_job_at_once(store: JobStore) -> None:
    queue = ScriptedQueue({"probe": [err("not a video file: x.mp4 contains text", permanent=True)]})
    pipeline = FakePipeline({"probe": ["probe"], "encode": ["encode"]})
    job_id = _job(store)

    assert _runner(store, queue, pipeline).run(job_id) is JobState.FAILED

    probe = _tasks(store, job_id)["probe"]
    assert (probe.state, probe.attempts) == (TaskState.FAILED, 1)
    assert queue.submitted == ["probe"]
    assert [stage for stage, _ in pipeline.planned] == ["probe"]  # later stages never planned
    job = store.get(job_id)
    assert (job.state, job.error) == (JobState.FAILED, "not a video file: x.mp4 contains text")
    assert pipeline.discarded == [job_id]
    assert pipeline.finished == []


@pytest.mark.parametrize("max_attempts", [2, 3])
def test_exhausted_retries_fail_the_job_naming_the_task(store: JobStore, max_attempts: int) -> None:
    queue = ScriptedQueue({"encode-0001": [err("encode chunk 1 failed (exit 1): boom")] * 9})
    pipeline = FakePipeline({"encode": ["encode-0000", "encode-0001"]})
    job_id = _job(store)

    runner = _runner(store, queue, pipeline, max_attempts=max_attempts)
    assert runner.run(job_id) is JobState.FAILED

    tasks = _tasks(store, job_id)
    assert (tasks["encode-0001"].state, tasks["encode-0001"].attempts) == (
        TaskState.FAILED,
        max_attempts,
    )
    assert (tasks["encode-0000"].state, tasks["encode-0000"].attempts) == (TaskState.DONE, 1)
    assert queue.submitted.count("encode-0001") == max_attempts
    assert store.get(job_id).error == (
        f"encode-0001 failed after {max_attempts} attempts: encode chunk 1 failed (exit 1): boom"
    )
    assert pipeline.discarded == [job_id]
    assert pipeline.finished == []


def test_tasks_that_fail_after_the_stage_has_failed_are_not_left_running(
    store: JobStore,
) -> None:
    # Both futures are complete when the runner looks: the first failure ends the stage, and the
    # other failure must still be recorded, not left RUNNING in a FAILED job.
    queue = ScriptedQueue(
        {"a": [err("bad input", permanent=True)], "b": [err("also bad", permanent=True)]}
    )
    pipeline = FakePipeline({"only": ["a", "b"]})
    job_id = _job(store)

    assert _runner(store, queue, pipeline).run(job_id) is JobState.FAILED

    tasks = _tasks(store, job_id)
    assert {t.state for t in tasks.values()} == {TaskState.FAILED}
    assert {t.error for t in tasks.values()} == {"bad input", "also bad"}
    assert store.get(job_id).error in {"bad input", "also bad"}


def test_a_resumed_job_skips_the_tasks_that_were_done(store: JobStore) -> None:
    pipeline = FakePipeline({"probe": ["probe"], "encode": ["enc-0", "enc-1", "enc-2"]})
    job_id = _job(store)
    # The state a killed runner leaves behind: probe and enc-0 done, enc-1 and enc-2 started.
    store.set_state(job_id, JobState.RUNNING, stage="encode")
    store.ensure_tasks(job_id, "probe", [NewTask("probe", "fake", {"name": "probe"})])
    store.ensure_tasks(
        job_id, "encode", [NewTask(f"enc-{i}", "fake", {"name": f"enc-{i}"}) for i in range(3)]
    )
    before = _tasks(store, job_id)
    for name in ("probe", "enc-0"):
        store.start_task(before[name].id)
        store.finish_task(before[name].id, {"made_by": f"{name} before the crash"})
    for name in ("enc-1", "enc-2"):
        store.start_task(before[name].id)
    done_before = _tasks(store, job_id)
    queue = ScriptedQueue()

    assert _runner(store, queue, pipeline).run(job_id) is JobState.SUCCEEDED

    assert sorted(queue.submitted) == ["enc-1", "enc-2"]
    after = _tasks(store, job_id)
    for name in ("probe", "enc-0"):
        assert after[name].attempts == 1
        assert after[name].finished_at == done_before[name].finished_at
        assert after[name].result == {"made_by": f"{name} before the crash"}
    for name in ("enc-1", "enc-2"):
        assert (after[name].state, after[name].attempts) == (TaskState.DONE, 2)
    stage, results = pipeline.planned[1]
    assert (stage, results["probe"]) == ("encode", {"made_by": "probe before the crash"})
    assert pipeline.finished[0]["enc-0"] == {"made_by": "enc-0 before the crash"}


def test_a_dead_worker_pool_is_restarted_and_its_tasks_retried(store: JobStore) -> None:
    # "a" is on the worker that died; "b" was still in flight on the same (now broken) pool.
    queue = ScriptedQueue({"a": [BrokenProcessPool("a child process terminated")], "b": [NEVER]})
    pipeline = FakePipeline({"only": ["a", "b"]})
    job_id = _job(store)

    assert _runner(store, queue, pipeline).run(job_id) is JobState.SUCCEEDED

    assert queue.restarts == 1
    assert sorted(queue.submitted) == ["a", "a", "b", "b"]
    tasks = _tasks(store, job_id)
    assert {(n, t.state, t.attempts) for n, t in tasks.items()} == {
        ("a", TaskState.DONE, 2),
        ("b", TaskState.DONE, 2),
    }


def test_a_pool_that_broke_while_idle_is_restarted_at_the_next_submit(store: JobStore) -> None:
    queue = ScriptedQueue({"a": [REFUSE]})
    pipeline = FakePipeline({"only": ["a", "b"]})
    job_id = _job(store)

    assert _runner(store, queue, pipeline).run(job_id) is JobState.SUCCEEDED

    assert queue.restarts == 1
    assert queue.submitted == ["a", "a", "b"]  # nothing more was sent to the broken pool
    tasks = _tasks(store, job_id)
    assert {(n, t.state, t.attempts) for n, t in tasks.items()} == {
        ("a", TaskState.DONE, 2),
        ("b", TaskState.DONE, 1),
    }


def test_a_task_that_keeps_killing_its_worker_fails_in_plain_words(store: JobStore) -> None:
    queue = ScriptedQueue({"a": [BrokenProcessPool("a child process terminated")] * 3})
    pipeline = FakePipeline({"only": ["a"]})
    job_id = _job(store)

    assert _runner(store, queue, pipeline).run(job_id) is JobState.FAILED

    assert queue.restarts == 3
    assert (
        store.get(job_id).error == "a failed after 3 attempts: the worker process running it died"
    )
    assert pipeline.discarded == [job_id]


def test_an_error_while_publishing_fails_the_job_and_discards_it(store: JobStore) -> None:
    pipeline = FakePipeline({"only": ["a"]}, finish_error=StorageUnavailable("S3 said 503"))
    job_id = _job(store)

    assert _runner(store, ScriptedQueue(), pipeline).run(job_id) is JobState.FAILED

    job = store.get(job_id)
    assert (job.state, job.stage, job.error) == (JobState.FAILED, "publish", "S3 said 503")
    assert pipeline.discarded == [job_id]


def test_a_finished_job_is_not_run_again(store: JobStore) -> None:
    queue = ScriptedQueue()
    pipeline = FakePipeline({"only": ["a"]})
    job_id = _job(store)
    runner = _runner(store, queue, pipeline)
    assert runner.run(job_id) is JobState.SUCCEEDED

    assert runner.run(job_id) is JobState.SUCCEEDED

    assert queue.submitted == ["a"]
    assert len(pipeline.finished) == 1


def test_run_pending_runs_every_unfinished_job_in_order(store: JobStore) -> None:
    queue = ScriptedQueue({"a": [err("nope", permanent=True)]})
    pipeline = FakePipeline({"only": ["a"]})
    first, second = _job(store), _job(store)

    assert _runner(store, queue, pipeline).run_pending() == [first, second]

    assert store.get(first).state is JobState.FAILED
    assert store.get(second).state is JobState.SUCCEEDED
    assert store.unfinished() == []


def test_followups_run_after_publication_and_complete_the_job(store: JobStore) -> None:
    pipeline = FakePipeline({"encode": ["enc"]}, followup_tasks={"qc": ["vmaf"]})
    job_id = _job(store)
    published: list[bool] = []

    class Watching(ScriptedQueue):
        def submit(self, task_id: int, fn: str, spec: TaskSpec) -> Future[TaskOutcome]:
            published.append("published_at" in store.get(job_id).facts)
            return super().submit(task_id, fn, spec)

    assert _runner(store, Watching(), pipeline).run(job_id) is JobState.SUCCEEDED

    assert published == [False, True]  # enc ran before publication, vmaf after
    assert [set(r) for r in pipeline.finished] == [{"enc"}]
    assert [set(r) for r in pipeline.completed] == [{"enc", "vmaf"}]
    job = store.get(job_id)
    assert (job.state, job.stage, job.error) == (JobState.SUCCEEDED, "done", None)


def test_a_failed_followup_is_reported_without_unpublishing(store: JobStore) -> None:
    queue = ScriptedQueue({"vmaf": [err("could not compute VMAF for 234p.mp4", permanent=True)]})
    pipeline = FakePipeline({"encode": ["enc"]}, followup_tasks={"qc": ["vmaf"]})
    job_id = _job(store)

    assert _runner(store, queue, pipeline).run(job_id) is JobState.SUCCEEDED

    assert pipeline.discarded == []
    assert [set(r) for r in pipeline.completed] == [{"enc"}]  # tidied, with no score to record
    job = store.get(job_id)
    assert (job.state, job.error) == (
        JobState.SUCCEEDED,
        "published, but could not compute VMAF for 234p.mp4",
    )
    assert "published_at" in job.facts


def _killed_while_scoring(store: JobStore, job_id: str) -> int:
    """The state a runner killed while scoring leaves: enc done, the title published, vmaf
    started. Returns vmaf's task id."""
    store.set_state(job_id, JobState.RUNNING, stage="qc")
    store.ensure_tasks(job_id, "encode", [NewTask("enc", "fake", {"name": "enc"})])
    store.ensure_tasks(job_id, "qc", [NewTask("vmaf", "fake", {"name": "vmaf"})])
    tasks = _tasks(store, job_id)
    store.start_task(tasks["enc"].id)
    store.finish_task(tasks["enc"].id, {"made_by": "enc"})
    store.mark_published(job_id)
    store.start_task(tasks["vmaf"].id)
    return tasks["vmaf"].id


def test_a_job_resumed_after_publication_does_not_publish_again(store: JobStore) -> None:
    pipeline = FakePipeline({"encode": ["enc"]}, followup_tasks={"qc": ["vmaf"]})
    job_id = _job(store)
    _killed_while_scoring(store, job_id)
    queue = ScriptedQueue()

    assert _runner(store, queue, pipeline).run(job_id) is JobState.SUCCEEDED

    assert queue.submitted == ["vmaf"]
    assert pipeline.finished == []
    assert [set(r) for r in pipeline.completed] == [{"enc", "vmaf"}]


def test_a_followup_failure_recorded_before_a_crash_is_still_reported(store: JobStore) -> None:
    pipeline = FakePipeline({"encode": ["enc"]}, followup_tasks={"qc": ["vmaf"]})
    job_id = _job(store)
    vmaf = _killed_while_scoring(store, job_id)
    # ... just after vmaf had failed for good, before the job's outcome was written.
    store.fail_task(vmaf, "could not compute VMAF for 234p.mp4", retry=False)
    queue = ScriptedQueue()

    assert _runner(store, queue, pipeline).run(job_id) is JobState.SUCCEEDED

    assert queue.submitted == []
    assert store.get(job_id).error == (
        "published, but vmaf failed: could not compute VMAF for 234p.mp4"
    )


def test_an_error_while_tidying_up_is_reported_on_the_published_job(store: JobStore) -> None:
    pipeline = FakePipeline(
        {"encode": ["enc"]},
        followup_tasks={"qc": ["vmaf"]},
        complete_error=StorageUnavailable("the object store did not answer"),
    )
    job_id = _job(store)

    assert _runner(store, ScriptedQueue(), pipeline).run(job_id) is JobState.SUCCEEDED

    assert pipeline.discarded == []
    job = store.get(job_id)
    assert (job.state, job.stage) == (JobState.SUCCEEDED, "done")
    assert job.error == "published, but could not tidy up: the object store did not answer"
