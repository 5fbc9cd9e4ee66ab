"""The queue interface work runs through, and its local implementation: a process pool.

Every task is a registered function name plus a JSON-serializable spec, and its inputs and
outputs live in the object store, so a distributed farm (Celery) can implement the same
interface later without changing the pipeline.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

TaskSpec = dict[str, Any]
TaskResult = dict[str, Any]


@dataclass(frozen=True)
class TaskOutcome:
    """What a worker reports: a result, or an error in plain words and whether retrying helps."""

    result: TaskResult | None = None
    error: str | None = None
    permanent: bool = False


class Queue(Protocol):
    def submit(self, task_id: int, fn: str, spec: TaskSpec) -> Future[TaskOutcome]: ...

    def restart(self) -> None:
        """Replace workers after one died (the futures of the dead pool are all failed)."""

    def shutdown(self) -> None: ...


class LocalPoolQueue:
    """Runs tasks in a pool of worker processes on this machine (``local://``)."""

    def __init__(
        self,
        workers: int,
        entry: Callable[[str, TaskSpec, int], TaskOutcome],
        initializer: Callable[..., None],
        initargs: tuple[Any, ...],
    ) -> None:
        self._workers = workers
        self._entry = entry
        self._initializer = initializer
        self._initargs = initargs
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=self._initializer,
            initargs=self._initargs,
        )

    def submit(self, task_id: int, fn: str, spec: TaskSpec) -> Future[TaskOutcome]:
        return self._pool.submit(self._entry, fn, spec, task_id)

    def restart(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
