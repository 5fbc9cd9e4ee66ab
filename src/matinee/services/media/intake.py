"""From a finished upload to a published asset: join the parts into the master, record the
ingest job, run it.

The job's id is the upload's id (and so the asset's), which makes submitting idempotent: a
second instance that assembles the same upload finds the job there (the primary key refuses
a second one). The instance that took the last byte does the work in two background threads
of its own, one joining masters and one running jobs, so a PATCH answers at once and a long
encode never delays the next upload's assembly. A job left unfinished by a stopped instance
is resumed by ``matinee work``; an assembly left half-done is started again by the next
status request once its marker is :data:`STALE_ASSEMBLY_S` old.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from sqlalchemy.exc import IntegrityError

from matinee.errors import MatineeError
from matinee.jobs.errors import JobNotFound
from matinee.jobs.models import Job
from matinee.platform import Platform
from matinee.services.media.upload_store import UploadInfo, UploadStore

log = logging.getLogger(__name__)

STALE_ASSEMBLY_S = 600.0
STOP_WAIT_S = 5.0


def master_key(info: UploadInfo) -> str:
    return f"masters/{info.id}/source{info.metadata.suffix}"


class _Lane:
    """One daemon thread working through a queue of ids, one at a time."""

    def __init__(self, name: str, work: Callable[[str], object]) -> None:
        self.name = name
        self._work = work
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()

    def put(self, item: str) -> None:
        self._idle.clear()
        self._queue.put(item)

    def stop(self, wait: float) -> None:
        """Drop what has not started (it is picked up again later) and end the thread."""
        if self._thread is None:
            return
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()
        self._queue.put(None)
        self._thread.join(wait)
        if self._thread.is_alive():
            log.warning("%s is still busy; leaving it to finish on its own", self.name)
        self._thread = None

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                self._work(item)
            except MatineeError as exc:
                log.warning("%s: %s failed: %s", self.name, item, exc)
            except Exception:
                log.exception("%s: %s failed unexpectedly", self.name, item)
            finally:
                if self._queue.empty():
                    self._idle.set()

    def wait_idle(self, timeout: float) -> bool:
        return self._idle.wait(timeout)


class Intake:
    """Turns finished uploads into ingest jobs (and runs them when ``run_jobs``)."""

    def __init__(self, platform: Platform, uploads: UploadStore, *, run_jobs: bool = True) -> None:
        self.platform = platform
        self.uploads = uploads
        self.run_jobs = run_jobs
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._assembler = _Lane("media-assemble", self.complete)
        self._runner = _Lane("media-ingest", self._run_job)

    # --- called from requests ------------------------------------------------------------

    def job(self, upload_id: str) -> Job | None:
        """The upload's job, once it is recorded."""
        try:
            return self.platform.jobs.get(upload_id)
        except JobNotFound:
            return None

    def assembling(self, upload_id: str) -> bool:
        with self._lock:
            return upload_id in self._pending

    def finish(self, upload_id: str) -> None:
        """Assemble and submit in the background (once per upload in this process)."""
        with self._lock:
            if upload_id in self._pending:
                return
            self._pending.add(upload_id)
        self._assembler.start()
        self._assembler.put(upload_id)

    def recover(self, upload_id: str) -> None:
        """A complete upload without a job nobody is assembling (an instance stopped while
        joining it): assemble it again (blocking I/O; run off the event loop)."""
        if self.assembling(upload_id) or self.job(upload_id) is not None:
            return
        since = self.uploads.assembling_since(upload_id)
        if since is None or self.uploads.clock.time() - since > STALE_ASSEMBLY_S:
            self.finish(upload_id)

    # --- the work ------------------------------------------------------------------------

    def complete(self, upload_id: str) -> str:
        """Join the parts into ``masters/<id>/source.<ext>`` and record the job; its id."""
        try:
            recorded = self.job(upload_id) is None and self._assemble_and_record(upload_id)
        finally:
            with self._lock:
                self._pending.discard(upload_id)
        if recorded and self.run_jobs:  # a job another instance recorded is its to run
            self._runner.start()
            self._runner.put(upload_id)
        return upload_id

    def _assemble_and_record(self, upload_id: str) -> bool:
        """True when this call recorded the job (False: another instance did meanwhile)."""
        info = self.uploads.info(upload_id)
        self.uploads.mark_assembling(upload_id)
        try:
            key = master_key(info)
            self.uploads.assemble(info, key)
            metadata = {
                **info.metadata.as_dict(),
                "upload_id": info.id,
                "uploaded_by": info.created_by,
                "size": info.length,
            }
            try:
                self.platform.record_ingest(
                    info.id, key, info.metadata.filename, info.metadata.title, metadata=metadata
                )
            except IntegrityError:
                if self.job(upload_id) is None:  # not a twin's job: a real failure
                    raise
                log.info("upload %s: another instance recorded its job first", upload_id)
                return False
            log.info("upload %s: master %s assembled, job recorded", upload_id, key)
            self.uploads.discard_parts(upload_id)
            return True
        finally:
            self.uploads.clear_assembling(upload_id)

    def _run_job(self, job_id: str) -> None:
        with self.platform.runner() as runner:
            state = runner.run(job_id)
        log.info("job %s ended %s", job_id, state.value)

    # --- lifetime ------------------------------------------------------------------------

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Until both lanes are idle (tests); False when ``timeout`` passed first."""
        return self._assembler.wait_idle(timeout) and self._runner.wait_idle(timeout)

    def stop(self, wait: float = STOP_WAIT_S) -> None:
        """Let the lanes finish what they hold, waiting at most ``wait`` s for each."""
        self._assembler.stop(wait)
        self._runner.stop(wait)

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await asyncio.to_thread(self.stop)
