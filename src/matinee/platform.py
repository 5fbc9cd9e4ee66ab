"""The composition root: builds matinee's parts from Settings (and nowhere else)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from matinee.assets.store import AssetStore
from matinee.db import make_engine, session_factory, upgrade
from matinee.ingest.pipeline import IngestPipeline
from matinee.ingest.tasks import execute
from matinee.ingest.worker import WorkerConfig, init_worker
from matinee.jobs.errors import JobError
from matinee.jobs.models import Job
from matinee.jobs.queue import LocalPoolQueue, Queue
from matinee.jobs.runner import Runner
from matinee.jobs.store import JobStore
from matinee.media.errors import InvalidMaster
from matinee.media.ladder import DEFAULT_LADDER, Ladder
from matinee.settings import Settings
from matinee.storage import ObjectStore, S3Options, open_store


@dataclass(frozen=True)
class SubtitleFile:
    language: str
    path: Path


class Platform:
    def __init__(self, settings: Settings, *, migrate: bool = True) -> None:
        """``migrate``: bring the database to head first (the CLI's one-shot commands and tests
        do; ``matinee up`` migrates once before any instance starts, and instances do not)."""
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if migrate:
            upgrade(settings.resolved_database_url)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.resolved_database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

    @cached_property
    def s3_options(self) -> S3Options:
        s = self.settings
        return S3Options(
            endpoint=s.s3_endpoint,
            region=s.s3_region,
            access_key_id=s.s3_access_key_id,
            secret_access_key=s.s3_secret_access_key,
        )

    @cached_property
    def objects(self) -> ObjectStore:
        return open_store(self.settings.resolved_storage_url, self.s3_options)

    @cached_property
    def jobs(self) -> JobStore:
        return JobStore(self.sessions)

    @cached_property
    def assets(self) -> AssetStore:
        return AssetStore(self.sessions)

    def ladder(self) -> Ladder:
        return DEFAULT_LADDER.model_copy(
            update={
                "preset": self.settings.x264_preset,
                "segment_seconds": self.settings.segment_seconds,
            }
        )

    def submit(
        self,
        master: Path,
        title: str,
        subtitles: Sequence[SubtitleFile] = (),
        ladder: Ladder | None = None,
    ) -> Job:
        """Upload a master (streamed, multipart) and record an ingest job for it."""
        if not master.is_file():
            raise InvalidMaster(f"{master} does not exist or is not a file")
        job_id = str(uuid.uuid4())
        master_key = f"masters/{job_id}/source{master.suffix.lower() or '.bin'}"
        self.objects.put_file(master_key, master)
        subs: list[dict[str, Any]] = []
        for n, sub in enumerate(subtitles):
            key = f"masters/{job_id}/subtitles/{sub.language}-{n}{sub.path.suffix.lower()}"
            self.objects.put_file(key, sub.path)
            subs.append({"key": key, "language": sub.language, "name": f"{sub.language}-{n}"})
        return self.record_ingest(
            job_id, master_key, master.name, title, subtitles=subs, ladder=ladder
        )

    def record_ingest(
        self,
        job_id: str,
        master_key: str,
        master_name: str,
        title: str,
        *,
        subtitles: Sequence[dict[str, Any]] = (),
        ladder: Ladder | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Job:
        """Record an ingest job for a master already in the object store (an upload);
        ``metadata`` (the upload form's fields) is kept with the job as ``params["metadata"]``."""
        lad = ladder or self.ladder()
        params = {
            "master_key": master_key,
            "master_name": master_name,
            "subtitles": list(subtitles),
            "ladder": lad.model_dump(mode="json"),
            "segment_seconds": lad.segment_seconds,
            "chunk_seconds": self.settings.chunk_seconds,
        }
        if metadata is not None:
            params["metadata"] = metadata
        return self.jobs.create("ingest", title, params, job_id=job_id)

    def worker_config(self) -> WorkerConfig:
        s = self.settings
        return WorkerConfig(
            storage_url=s.resolved_storage_url,
            s3=self.s3_options,
            database_url=s.resolved_database_url,
            work_dir=str(s.work_dir),
            vmaf_subsample=s.vmaf_subsample,
            encoder_threads=s.encoder_threads,
            nice=s.worker_nice,
        )

    def queue(self) -> Queue:
        """The queue named by ``MATINEE_QUEUE_URL``; ``local://`` is a process pool here."""
        scheme = self.settings.queue_url.partition("://")[0]
        if scheme != "local":
            raise JobError(
                f"unsupported queue URL {self.settings.queue_url!r}: "
                "only local:// (a process pool on this machine) is available"
            )
        return LocalPoolQueue(
            self.settings.worker_count, execute, init_worker, (self.worker_config(),)
        )

    @contextmanager
    def runner(self) -> Iterator[Runner]:
        queue = self.queue()
        try:
            yield Runner(
                self.jobs,
                queue,
                {"ingest": IngestPipeline(self.objects, self.assets)},
                max_attempts=self.settings.task_attempts,
            )
        finally:
            queue.shutdown()

    def clear_work_dir(self) -> None:
        shutil.rmtree(self.settings.work_dir, ignore_errors=True)
