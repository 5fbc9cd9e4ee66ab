"""The media service: published assets and their packaged media from the object store
(openly under ``/media/...`` and behind signed URLs under ``/t/<token>/...``), resumable
uploads of masters (tus, ``/api/media/uploads``) and the jobs they become (``/api/media/jobs``)."""

from __future__ import annotations

from fastapi import APIRouter

from matinee.runtime.app import ServiceSpec
from matinee.runtime.context import ServiceContext
from matinee.runtime.identity import Callers
from matinee.services.media import api, jobs_api, listing, signed, uploads
from matinee.services.media.errors import STATUS
from matinee.services.media.intake import Intake
from matinee.services.media.upload_store import UploadStore

SWEEP_INTERVAL_S = 600.0  # how often expired uploads are looked for (at most)


def build(
    ctx: ServiceContext, *, run_jobs: bool = True, max_upload: int = uploads.DEFAULT_MAX_SIZE
) -> list[APIRouter]:
    """``run_jobs``: run the ingest jobs this instance's uploads submit (tests of the upload
    protocol alone turn it off); ``max_upload``: Tus-Max-Size in bytes."""
    platform = ctx.platform
    access = signed.signed_access(platform, ctx.config.url_signing_key, ctx.clock)
    callers = Callers(ctx)
    ttl = ctx.settings.upload_ttl_s
    store = UploadStore(platform.objects, ctx.clock, ttl_s=ttl)
    intake = Intake(platform, store, run_jobs=run_jobs)
    ctx.add_lifespan(intake.lifespan)
    sweeper = uploads.UploadSweeper(store, intake, interval=min(ttl / 4, SWEEP_INTERVAL_S))
    ctx.add_lifespan(sweeper.lifespan)
    return [
        api.router(platform, instance=ctx.instance_id),
        signed.router(platform, access),
        listing.router(platform),  # the CDN's fill (services/steering)
        uploads.router(uploads.Uploads(store, intake, max_upload), callers),
        jobs_api.router(platform, callers),
    ]


SPEC = ServiceSpec(
    "media",
    build=build,
    errors=STATUS,
    description="Published assets and their packaged media, uploads of masters, ingest jobs.",
)
