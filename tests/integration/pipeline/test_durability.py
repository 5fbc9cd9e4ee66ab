"""Durability of ingest jobs, with real processes: the whole CLI killed mid-job and resumed by
``matinee work``; one pool worker killed mid-task; a task failing deterministically until its
retries run out. Nothing is half-published and nothing keeps running after a kill."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from matinee.ingest.pipeline import IngestPipeline
from matinee.jobs.models import Job, JobState, Task, TaskState
from matinee.jobs.runner import Results, Runner
from matinee.jobs.store import NewTask
from matinee.platform import Platform
from matinee.storage import ObjectStore

from .conftest import (
    PIPELINE_SETTINGS,
    MakePlatform,
    assert_nothing_published,
    cli_env,
    keys_under,
)

pytestmark = pytest.mark.slow

MATINEE = Path(sys.executable).with_name("matinee")
# A slower preset than the other tests use, so a 2 s chunk takes long enough to be caught midway.
SLOW_PRESET = "slow"
WAIT_SECONDS = 120.0
POLL_SECONDS = 0.05
# Only an ffmpeg that has just started is caught (measured in CPU time, which unlike psutil's
# create_time has no clock skew), so it cannot finish between being seen and being killed.
FRESH_CPU_SECONDS = 0.2
_CHUNK_INPUT = re.compile(r"/(chunk_\d{4}\.mov)$")


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _fresh_chunk_tools(procs: Iterable[psutil.Process]) -> dict[str, psutil.Process]:
    """Chunk file name -> an ffmpeg reading that chunk (a first or second pass), for the ones
    started just now."""
    found = {}
    for proc in procs:
        try:
            argv = proc.cmdline()
            cpu = proc.cpu_times()
        except psutil.Error:
            continue
        if not argv or not Path(argv[0]).name.startswith("ffmpeg"):
            continue
        if cpu.user + cpu.system > FRESH_CPU_SECONDS:
            continue
        for arg in argv:
            if m := _CHUNK_INPUT.search(arg):
                found[m.group(1)] = proc
    return found


def _pool_workers() -> list[psutil.Process]:
    """This process's pool workers (not multiprocessing's resource tracker, nor a server)."""
    found = []
    for proc in psutil.Process().children():
        try:
            if any("spawn_main" in arg for arg in proc.cmdline()):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def _tasks(platform: Platform, job_id: str) -> dict[str, Task]:
    return {t.name: t for t in platform.jobs.tasks(job_id)}


def _task_on_chunk(platform: Platform, job_id: str, chunk_file: str) -> Task:
    """The task of the job's current stage that works on ``chunk_file``."""
    stage = platform.jobs.get(job_id).stage
    (task,) = (
        t
        for t in platform.jobs.tasks(job_id, stage)
        if str(t.spec.get("chunk", {}).get("key", "")).endswith(f"/{chunk_file}")
    )
    return task


def _wait_until_dead(procs: list[psutil.Process], seconds: float = 10.0) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    while any(_alive(p) for p in procs) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    return [p for p in procs if _alive(p)]


def _tools_using(data_dir: Path) -> list[psutil.Process]:
    """Live processes (ffmpeg, packager...) whose command line reads or writes ``data_dir``."""
    found = []
    for proc in psutil.process_iter():
        try:
            if any(str(data_dir) in arg for arg in proc.cmdline()) and _alive(proc):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def test_killing_the_whole_process_mid_job_then_work_resumes_it(
    make_platform: MakePlatform, long_master: Path, tmp_path: Path
) -> None:
    settings = {**PIPELINE_SETTINGS, "x264_preset": SLOW_PRESET, "workers": 1}
    platform = make_platform(**settings)
    data_dir = platform.settings.data_dir
    env = cli_env(data_dir, **{k: str(v) for k, v in settings.items()})
    log_path = tmp_path / "ingest.log"
    with log_path.open("wb") as log:
        ingest = subprocess.Popen(
            [MATINEE, "ingest", long_master, "--title", "Interrupted"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so it can be killed whole
        )
    try:
        job_id, interrupted, tree = _wait_for_a_chunk_mid_encode(platform, ingest, log_path)
        os.killpg(ingest.pid, signal.SIGKILL)
        killed_at = datetime.now(UTC)
        ingest.wait(timeout=10)
    finally:
        if ingest.poll() is None:
            os.killpg(ingest.pid, signal.SIGKILL)
            ingest.wait()

    # Nothing of the killed run keeps running: not its workers, not their ffmpeg.
    assert _wait_until_dead(tree) == []
    assert _tools_using(data_dir) == []
    # The database says where it stopped.
    job = platform.jobs.get(job_id)
    assert (job.state, job.stage) == (JobState.RUNNING, "encode")
    before = _tasks(platform, job_id)
    assert before[interrupted].state is TaskState.RUNNING
    done_before = {n: t for n, t in before.items() if t.state is TaskState.DONE}
    assert {"probe", "split"} <= set(done_before)
    assert any(n.startswith("encode-") for n in done_before)

    work = subprocess.run(
        [MATINEE, "work"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
    )

    assert work.returncode == 0, work.stdout + work.stderr
    assert "Traceback" not in work.stdout + work.stderr
    job = platform.jobs.get(job_id)
    assert job.state is JobState.SUCCEEDED, job.error
    after = _tasks(platform, job_id)
    assert all(t.state is TaskState.DONE for t in after.values())
    for name, task in done_before.items():  # not redone
        assert after[name].attempts == 1, name
        assert after[name].finished_at == task.finished_at, name
    rerun = after[interrupted]
    assert rerun.attempts == 2
    assert rerun.started_at is not None
    assert rerun.started_at > killed_at
    assert platform.assets.get(job_id) is not None
    assert keys_under(platform.objects, "work/") == []


def _wait_for_a_chunk_mid_encode(
    platform: Platform, ingest: subprocess.Popen[bytes], log_path: Path
) -> tuple[str, str, list[psutil.Process]]:
    """Poll until one chunk is encoded and another is being encoded right now; returns the job,
    the task being encoded, and every process of the ingest's tree."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if ingest.poll() is not None:
            pytest.fail(f"ingest ended before it was interrupted:\n{log_path.read_text()}")
        jobs = platform.jobs.unfinished()
        if jobs and platform.jobs.get(jobs[0]).stage == "encode":
            (job_id,) = jobs
            tasks = platform.jobs.tasks(job_id, "encode")
            if any(t.state is TaskState.DONE for t in tasks):
                tree = psutil.Process(ingest.pid).children(recursive=True)
                for chunk_file in _fresh_chunk_tools(tree):
                    task = _task_on_chunk(platform, job_id, chunk_file)
                    if task.state is TaskState.RUNNING:
                        return job_id, task.name, tree
        time.sleep(POLL_SECONDS)
    pytest.fail(f"no chunk was caught mid-encode within {WAIT_SECONDS:g} s")


def test_a_killed_worker_is_replaced_and_its_task_retried(
    make_platform: MakePlatform, long_master: Path
) -> None:
    platform = make_platform(**PIPELINE_SETTINGS, x264_preset=SLOW_PRESET, workers=2)
    job = platform.submit(long_master, "Worker killed")
    outcome: list[JobState | str] = []  # the job's end state, or the traceback that escaped

    def drive() -> None:
        try:
            with platform.runner() as runner:
                outcome.append(runner.run(job.id))
        except BaseException:  # noqa: BLE001 - reported by the test thread below
            outcome.append(traceback.format_exc())

    runner_thread = threading.Thread(target=drive, name="test-runner", daemon=True)
    runner_thread.start()
    try:
        victim_task, worker, ffmpeg = _a_worker_mid_chunk(platform, job.id)
        os.kill(worker.pid, signal.SIGKILL)
        orphans = _wait_until_dead([ffmpeg])  # its ffmpeg does not carry on without it
    finally:
        runner_thread.join(timeout=WAIT_SECONDS)
    assert not runner_thread.is_alive()

    if outcome != [JobState.SUCCEEDED]:
        escaped = "".join(map(str, outcome))
        pytest.fail(f"the job did not succeed: {platform.jobs.get(job.id).error}\n{escaped}")
    task = _tasks(platform, job.id)[victim_task]
    assert task.state is TaskState.DONE
    assert task.attempts >= 2
    assert orphans == []
    assert not _alive(worker)
    assert platform.assets.get(job.id) is not None
    assert keys_under(platform.objects, "work/") == []


def _a_worker_mid_chunk(
    platform: Platform, job_id: str
) -> tuple[str, psutil.Process, psutil.Process]:
    """A pool worker of this process that has just started a pass over a chunk: the task's
    name, the worker, and the worker's ffmpeg."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        workers = _pool_workers()
        tools = _fresh_chunk_tools(psutil.Process().children(recursive=True))
        for chunk_file, ffmpeg in tools.items():
            try:
                parent = ffmpeg.parent()
            except psutil.Error:
                continue
            if parent is not None and parent in workers:
                return _task_on_chunk(platform, job_id, chunk_file).name, parent, ffmpeg
        time.sleep(POLL_SECONDS)
    pytest.fail(f"no worker was caught working on a chunk within {WAIT_SECONDS:g} s")


def test_a_worker_that_died_while_idle_is_replaced_before_the_next_job(
    platform: Platform, short_master: Path
) -> None:
    first = platform.submit(short_master, "First")
    second = platform.submit(short_master, "Second")
    with platform.runner() as runner:
        assert runner.run(first.id) is JobState.SUCCEEDED
        workers = _pool_workers()
        assert workers
        # Kill one idle worker. The pool notices and stops the others: once they are all gone,
        # the pool is known to be broken, with no task in flight to report it.
        os.kill(workers[0].pid, signal.SIGKILL)
        assert _wait_until_dead(workers) == []

        assert runner.run(second.id) is JobState.SUCCEEDED, platform.jobs.get(second.id).error

    assert platform.assets.get(second.id) is not None


# --- a task that fails every time ----------------------------------------------------------------

GARBAGE = b"these bytes are not a video; ffmpeg cannot read them\n" * 64


class CorruptingPipeline(IngestPipeline):
    """The real ingest pipeline, except that one work object is overwritten with garbage just
    before a stage is planned, so that stage's tasks fail for real, every time."""

    def __init__(self, platform: Platform, stage: str, pick: str) -> None:
        super().__init__(platform.objects, platform.assets)
        self.objects: ObjectStore = platform.objects
        self.stage, self.pick = stage, pick

    def plan(self, stage: str, job: Job, results: Results) -> list[NewTask]:
        if stage == self.stage:
            if self.pick == "chunk 1":
                key = results["split"]["chunks"][1]["key"]
            elif self.pick == "a rendition":
                key = next(r["key"] for n, r in sorted(results.items()) if n.startswith("stitch-"))
            else:
                key = results[self.pick]["key"]
            self.objects.put_bytes(key, GARBAGE)
        return super().plan(stage, job, results)


def _run_corrupted(
    platform: Platform, master: Path, stage: str, pick: str, ends: JobState = JobState.FAILED
) -> str:
    job = platform.submit(master, "Corrupted")
    queue = platform.queue()
    try:
        runner = Runner(
            platform.jobs,
            queue,
            {"ingest": CorruptingPipeline(platform, stage, pick)},
            max_attempts=platform.settings.task_attempts,
        )
        assert runner.run(job.id) is ends
    finally:
        queue.shutdown()
    return job.id


def test_a_task_failing_every_time_fails_the_job_after_its_retries(
    platform: Platform, short_master: Path
) -> None:
    attempts = platform.settings.task_attempts
    job_id = _run_corrupted(platform, short_master, "encode", "chunk 1")

    tasks = _tasks(platform, job_id)
    assert (tasks["encode-0001"].state, tasks["encode-0001"].attempts) == (
        TaskState.FAILED,
        attempts,
    )
    assert tasks["encode-0000"].attempts == 1  # the healthy chunks were not retried
    assert not any(n.startswith("stitch") for n in tasks)  # the job stopped at the barrier
    error = platform.jobs.get(job_id).error or ""
    assert error.startswith(f"encode-0001 failed after {attempts} attempts: encode chunk 1 ")
    assert "Invalid data found when processing input" in error  # ffmpeg's own words
    assert "Traceback" not in error
    assert_nothing_published(platform, job_id)
    assert keys_under(platform.objects, f"masters/{job_id}/")  # the master is kept


def test_a_failure_after_artwork_was_published_discards_it(
    platform: Platform, short_master: Path
) -> None:
    # The audio track is ruined before the last stage: packaging fails every time, while the
    # thumbnails task succeeds and publishes the poster and trickplay under assets/ first.
    job_id = _run_corrupted(platform, short_master, "finish", "audio-eng-0")

    tasks = _tasks(platform, job_id)
    assert tasks["thumbnails"].state is TaskState.DONE
    assert tasks["thumbnails"].result
    assert tasks["thumbnails"].result["poster"].startswith(f"assets/{job_id}/")
    assert tasks["package"].state is TaskState.FAILED
    assert not any(t.state is TaskState.RUNNING for t in tasks.values())
    error = platform.jobs.get(job_id).error or ""
    attempts = platform.settings.task_attempts
    assert error.startswith(f"package failed after {attempts} attempts: package HLS and DASH")
    assert "Failed to detect the container type" in error  # the packager's own words
    assert "Traceback" not in error
    assert_nothing_published(platform, job_id)


def test_a_failed_quality_score_leaves_the_title_published(
    platform: Platform, short_master: Path
) -> None:
    # The title is published before its VMAF is scored; a rendition's work copy is ruined
    # before scoring, so VMAF fails every time. The published package is not touched.
    job_id = _run_corrupted(platform, short_master, "qc", "a rendition", JobState.SUCCEEDED)

    tasks = _tasks(platform, job_id)
    assert tasks["vmaf"].state is TaskState.FAILED
    job = platform.jobs.get(job_id)
    assert (job.error or "").startswith("published, but vmaf failed after ")
    assert "could not compute VMAF" in (job.error or "")
    assert "published_at" in job.facts
    asset = platform.assets.get(job_id)
    assert asset is not None
    video = [t for t in asset.tracks if t.kind == "video"]
    assert video
    assert all(t.vmaf_mean is None for t in video)
    assert platform.objects.exists(asset.hls_key)
    assert keys_under(platform.objects, "work/") == []  # tidied all the same


def test_a_runner_killed_between_publishing_and_noting_it_does_not_publish_twice(
    platform: Platform, short_master: Path
) -> None:
    job = platform.submit(short_master, "Published once")
    with platform.runner() as runner:
        assert runner.run(job.id) is JobState.SUCCEEDED
    # The state such a kill leaves: the asset rows committed, the job not told, still running.
    with platform.sessions.begin() as s:
        row = s.get(Job, job.id)
        assert row is not None
        row.facts = {k: v for k, v in row.facts.items() if k != "published_at"}
        row.state = JobState.RUNNING
    asset = platform.assets.get(job.id)
    assert asset is not None

    with platform.runner() as runner:
        assert runner.run(job.id) is JobState.SUCCEEDED

    again = platform.jobs.get(job.id)
    assert (again.state, again.error) == (JobState.SUCCEEDED, None)
    assert "published_at" in again.facts
    assert [a.id for a in platform.assets.all()] == [job.id]
    assert platform.objects.exists(asset.hls_key)
