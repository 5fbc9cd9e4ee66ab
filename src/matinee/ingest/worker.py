"""The worker side of the queue: the process-wide context a task runs in.

A worker gets the object store, a scratch directory and a progress reporter. It localizes
inputs from the store (in place for a local directory, streamed download for S3) and publishes
outputs back, so no task depends on another task's local disk.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from matinee.db import make_engine, session_factory
from matinee.jobs.store import JobStore
from matinee.procutil import die_with_parent
from matinee.storage import ObjectStore, S3Options, open_store

log = logging.getLogger(__name__)

_PROGRESS_INTERVAL = 0.5


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a worker process needs, picklable (sent once, at pool start)."""

    storage_url: str
    s3: S3Options | None
    database_url: str
    work_dir: str
    vmaf_subsample: int
    encoder_threads: int
    nice: int = 0


class WorkerContext:
    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.store: ObjectStore = open_store(config.storage_url, config.s3)
        self.work_dir = Path(config.work_dir)
        self._engine: Engine | None = None
        self._jobs: JobStore | None = None

    @property
    def jobs(self) -> JobStore:
        if self._jobs is None:
            self._engine = make_engine(self.config.database_url)
            self._jobs = JobStore(session_factory(self._engine))
        return self._jobs

    def local(self, key: str, scratch: Path) -> Path:
        """A local path holding the object: in place for a local store, else downloaded."""
        path = self.store.local_path(key)
        if path is not None:
            return path
        target = scratch / "in" / key.replace("/", "__")
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            self.store.get_file(key, target)
        return target

    def publish(self, path: Path, key: str) -> str:
        self.store.put_file(key, path)
        return key

    def publish_tree(self, root: Path, prefix: str) -> list[str]:
        keys = []
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            keys.append(self.publish(path, f"{prefix}/{path.relative_to(root).as_posix()}"))
        return keys

    @contextmanager
    def scratch(self, job_id: str, task: str) -> Iterator[Path]:
        """A private scratch directory for one task, removed afterwards whatever happens."""
        path = self.work_dir / job_id / task
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def progress(self, task_id: int) -> Callable[[float], None]:
        """A throttled reporter that writes a task's progress for ``jobs --watch`` to show."""
        last = 0.0

        def report(fraction: float) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= _PROGRESS_INTERVAL:
                last = now
                try:
                    self.jobs.set_progress(task_id, round(fraction, 3))
                except Exception:  # progress is cosmetic; never fail a task over it
                    log.debug("could not record progress of task %s", task_id, exc_info=True)

        return report


_context: WorkerContext | None = None


def init_worker(config: WorkerConfig) -> None:
    """Pool initializer: die with the runner, and open the store once per process."""
    global _context  # noqa: PLW0603 - one context per worker process, set at start-up
    die_with_parent()
    lower_priority(config.nice)
    logging.basicConfig(level=logging.WARNING)
    _context = WorkerContext(config)


def lower_priority(increment: int) -> None:
    """Run this process (and the tools it starts, which inherit it) ``increment`` nice levels
    below its parent: the CPU goes to the services first when both want it, and to the
    transcodes whenever the services leave it idle."""
    if increment > 0:
        try:
            os.nice(increment)
        except OSError as exc:  # not allowed here: run at the parent's priority
            log.warning("ingest worker could not lower its priority: %s", exc)


def context() -> WorkerContext:
    if _context is None:
        raise RuntimeError("worker context used outside a worker process")
    return _context
