"""The media service: the viewer page, the assets API and packaged media from the object store
(openly under ``/media/...`` and behind signed URLs under ``/t/<token>/...``)."""

from __future__ import annotations

from fastapi import APIRouter

from matinee.runtime.app import ServiceSpec
from matinee.runtime.context import ServiceContext
from matinee.services.media import api, listing, signed
from matinee.services.media.errors import STATUS


def build(ctx: ServiceContext) -> list[APIRouter]:
    access = signed.signed_access(ctx.platform, ctx.config.url_signing_key, ctx.clock)
    return [
        api.router(ctx.platform, instance=ctx.instance_id),
        signed.router(ctx.platform, access),
        listing.router(ctx.platform),  # the CDN's fill (services/steering)
    ]


SPEC = ServiceSpec(
    "media",
    build=build,
    errors=STATUS,
    description="The viewer page, published assets and their packaged media.",
)
