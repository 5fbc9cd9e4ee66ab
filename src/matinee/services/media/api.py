"""The media service's routes: the assets API, packaged media from the object store (in place
from a local directory with byte ranges, or streamed from S3), and the browser players' builds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response

from matinee import __version__
from matinee.platform import Platform
from matinee.services.media.asset_view import asset_out
from matinee.services.media.objects import object_response, preflight_response
from matinee.services.media.schemas import AssetOut

# This file is src/matinee/services/media/api.py in a checkout; the npm players sit beside src.
PLAYERS = Path(__file__).resolve().parents[4] / "web" / "players" / "node_modules"


def router(platform: Platform, players: Path = PLAYERS, *, instance: str = "") -> APIRouter:
    api = APIRouter(tags=["media"])
    about_body = {"service": "media", "instance": instance, "version": __version__}

    @api.get("/api/media/about")
    async def about() -> dict[str, str]:
        """Which instance answered: a tiny JSON answer that touches no storage (the gateway
        benchmark, ``bench/gateway_proxy.py``, measures the platform's own cost on it)."""
        return about_body

    @api.get("/api/assets")
    def list_assets() -> list[dict[str, Any]]:
        return [
            {
                "id": a.id,
                "title": a.title,
                "duration": a.duration,
                "hls": f"/media/{a.hls_key}",
                "dash": f"/media/{a.dash_key}",
                "poster": f"/media/{a.poster_key}" if a.poster_key else None,
                "trickplay": f"/media/{a.trickplay_key}" if a.trickplay_key else None,
                "renditions": [
                    {
                        "name": t.name,
                        "width": t.width,
                        "height": t.height,
                        "average_bps": t.average_bps,
                        "vmaf": t.vmaf_mean,
                    }
                    for t in a.tracks
                    if t.kind == "video"
                ],
            }
            for a in platform.assets.all()
        ]

    @api.get("/api/assets/{asset_id}", summary="One packaged asset", response_model=AssetOut)
    def get_asset(asset_id: str) -> AssetOut:
        """One packaged asset: its object-store keys, size, duration, thumbnails (poster,
        trickplay index and sprites) and tracks (bitrates and VMAF per video rendition)."""
        a = platform.assets.get(asset_id)
        if a is None:
            raise HTTPException(404, "There is no asset with this id.")
        return asset_out(a, platform.objects)

    def unsigned(key: str, request: Request) -> Response:
        if not key.startswith("assets/"):
            raise HTTPException(404, "only packaged assets are served")
        return object_response(platform, key, request)

    @api.get("/media/{key:path}", summary="Packaged media (byte ranges, validators, CORS)")
    def media(key: str, request: Request) -> Response:
        """One object of a published package; edges fill from here."""
        return unsigned(key, request)

    @api.head("/media/{key:path}", summary="Headers of packaged media")
    def media_head(key: str, request: Request) -> Response:
        """What GET would answer, without the body."""
        return unsigned(key, request)

    @api.options("/media/{key:path}", summary="CORS preflight for packaged media")
    def media_preflight(key: str, request: Request) -> Response:
        """What a browser player may send (Range, validators) from any origin."""
        del key
        return preflight_response(request)

    @api.get("/players/{path:path}")
    def player_file(path: str) -> FileResponse:
        target = (players / path).resolve()
        if not target.is_relative_to(players) or not target.is_file():
            raise HTTPException(404, "no such player file")
        return FileResponse(target)

    return api
