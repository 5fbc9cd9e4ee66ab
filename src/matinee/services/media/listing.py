"""Every file of a packaged asset, for the CDN's proactive fill.

``GET /internal/media/assets/{asset_id}/objects`` lists the objects under the asset's prefix
(manifests, every rendition's init and media segments, subtitles, poster, trickplay) with their
sizes, by key. The fill controller (``services/steering/fill.py``) groups them by rendition
and pushes the most valuable to the edges.
"""

# No ``from __future__ import annotations``: FastAPI reads the route's annotations.

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, ConfigDict

from matinee.platform import Platform

ASSET_ID = r"^[A-Za-z0-9._-]{1,64}$"


class ObjectOut(BaseModel):
    key: str  # object-store key, e.g. assets/<id>/video/720p/3.m4s
    size: int


class AssetObjects(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "asset_id": "9a2b",
                    "prefix": "assets/9a2b/",
                    "objects": [{"key": "assets/9a2b/video/720p/1.m4s", "size": 812345}],
                }
            ]
        }
    )

    asset_id: str
    prefix: str
    objects: list[ObjectOut]


def router(platform: Platform) -> APIRouter:
    api = APIRouter(prefix="/internal/media", tags=["media internal"])

    @api.get("/assets/{asset_id}/objects", summary="An asset's files", response_model=AssetObjects)
    def asset_objects(asset_id: Annotated[str, Path(pattern=ASSET_ID)]) -> AssetObjects:
        """Every object of the packaged asset with its size, by key (404: no such asset)."""
        asset = platform.assets.get(asset_id)
        if asset is None:
            raise HTTPException(404, "There is no asset with this id.")
        prefix = asset.prefix.strip("/") + "/"
        found = sorted(platform.objects.list(prefix), key=lambda o: o.key)
        return AssetObjects(
            asset_id=asset_id,
            prefix=prefix,
            objects=[ObjectOut(key=o.key, size=o.size) for o in found],
        )

    return api
