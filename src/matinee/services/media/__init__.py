"""The media service: the viewer page, the assets API and packaged media from the object store."""

from __future__ import annotations

from fastapi import APIRouter

from matinee.runtime.app import ServiceSpec
from matinee.runtime.context import ServiceContext
from matinee.services.media import api
from matinee.services.media.errors import STATUS


def build(ctx: ServiceContext) -> APIRouter:
    return api.router(ctx.platform, instance=ctx.instance_id)


SPEC = ServiceSpec(
    "media",
    build=build,
    errors=STATUS,
    description="The viewer page, published assets and their packaged media.",
)
