"""Ingest workers run below the services' priority, so the platform stays responsive while
titles transcode on the same machine; the tools they start inherit it."""

from __future__ import annotations

import os
import subprocess
import sys

from matinee.ingest.worker import lower_priority
from matinee.jobs.queue import LocalPoolQueue, TaskOutcome, TaskSpec


def report_priority(fn: str, spec: TaskSpec, task_id: int) -> TaskOutcome:
    tool = [sys.executable, "-c", "import os; print(os.nice(0))"]  # as ffmpeg would be started
    child = subprocess.run(tool, capture_output=True, text=True, check=True)
    return TaskOutcome(result={"worker": os.nice(0), "tool": int(child.stdout)})


def test_pool_workers_and_their_tools_run_lower_than_the_parent() -> None:
    parent = os.nice(0)
    queue = LocalPoolQueue(1, report_priority, lower_priority, (7,))
    try:
        outcome = queue.submit(1, "report", {}).result(timeout=60)
    finally:
        queue.shutdown()
    assert outcome.result == {"worker": min(parent + 7, 19), "tool": min(parent + 7, 19)}


def test_no_increment_leaves_the_priority_alone() -> None:
    parent = os.nice(0)
    lower_priority(0)
    assert os.nice(0) == parent
