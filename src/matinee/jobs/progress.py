"""How far along a job is, from its tasks (for the CLI and the console)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matinee.jobs.models import Job, JobState, Task, TaskState

# Share of a job's work in each ingest stage (encoding dominates, then scoring its quality).
STAGE_WEIGHTS: Mapping[str, float] = {
    "probe": 0.01, "split": 0.01, "analyze": 0.18, "encode": 0.50, "stitch": 0.01,
    "finish": 0.04, "qc": 0.25,
}  # fmt: skip


def task_fraction(task: Task) -> float:
    return 1.0 if task.state == TaskState.DONE else max(0.0, min(task.progress, 1.0))


def job_fraction(job: Job, tasks: Sequence[Task]) -> float:
    if job.state == JobState.SUCCEEDED:
        return 1.0
    total = 0.0
    for stage, weight in STAGE_WEIGHTS.items():
        in_stage = [t for t in tasks if t.stage == stage]
        if in_stage:
            total += weight * sum(task_fraction(t) for t in in_stage) / len(in_stage)
    return min(total, 0.99)
