"""What the catalog keeps of a packaged media asset, and where it learns it.

Linking a title to an asset copies four facts: its poster and trickplay keys (the title's
artwork, served by the media service at ``/media/<key>``), its duration and its tallest
rendition. They come from the media service's ``GET /api/assets/{asset_id}`` (:func:`fetch`),
or, for the seed command, which has the asset rows at hand, from :func:`from_record`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from matinee.assets.models import Asset
from matinee.runtime.client import ServiceClient
from matinee.services.catalog.errors import AssetNotFound, MediaAnswerInvalid


@dataclass(frozen=True)
class AssetInfo:
    asset_id: str
    poster_key: str | None
    trickplay_key: str | None
    duration_s: float
    max_height: int | None


def from_json(body: Any) -> AssetInfo:
    """From the media service's JSON for one asset."""
    try:
        heights = [
            int(t["height"])
            for t in body.get("tracks", ())
            if t.get("kind") == "video" and t.get("height") is not None
        ]
        height = body.get("height")
        return AssetInfo(
            asset_id=str(body["id"]),
            poster_key=_key(body.get("poster_key")),
            trickplay_key=_key(body.get("trickplay_key")),
            duration_s=float(body["duration"]),
            max_height=max(heights) if heights else (int(height) if height else None),
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise MediaAnswerInvalid(
            f"The media service described the asset in a way the catalog cannot read ({exc})."
        ) from exc


def _key(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith("assets/"):
        raise ValueError(f"{value!r} is not a packaged asset's key")
    return value


def from_record(asset: Asset) -> AssetInfo:
    """From an asset row (its tracks loaded), for callers inside the platform."""
    heights = [t.height for t in asset.tracks if t.kind == "video" and t.height is not None]
    return AssetInfo(
        asset_id=asset.id,
        poster_key=asset.poster_key,
        trickplay_key=asset.trickplay_key,
        duration_s=asset.duration,
        max_height=max(heights) if heights else asset.height,
    )


async def fetch(media: ServiceClient, asset_id: str) -> AssetInfo:
    """Ask the media service about ``asset_id`` (AssetNotFound when it has none)."""
    response = await media.request("GET", f"/api/assets/{quote(asset_id, safe='')}")
    if response.status == 404:
        raise AssetNotFound(f"asset_id: the media service has no asset {asset_id!r}.")
    if response.status != 200:
        raise MediaAnswerInvalid(
            f"The media service answered {response.status} about asset {asset_id!r}."
        )
    try:
        body = response.json()
    except ValueError as exc:
        raise MediaAnswerInvalid("The media service's answer was not JSON.") from exc
    return from_json(body)
