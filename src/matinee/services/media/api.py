"""The media service's routes: the page that lists and plays titles, the assets API, packaged
media from the object store (in place from a local directory with byte ranges, or streamed
from S3), and the browser players' builds."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, Response, StreamingResponse

from matinee import __version__
from matinee.platform import Platform
from matinee.web.page import PAGE

# This file is src/matinee/services/media/api.py in a checkout; the npm players sit beside src.
PLAYERS = Path(__file__).resolve().parents[4] / "web" / "players" / "node_modules"
CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mpd": "application/dash+xml",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".vtt": "text/vtt",
    ".jpg": "image/jpeg",
}


def content_type(key: str) -> str:
    suffix = Path(key).suffix.lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(key)[0] or "application/octet-stream"


def object_response(platform: Platform, key: str, *, head: bool = False) -> Response:
    """The object at ``key``: in place from a local directory (byte ranges, HEAD), or streamed
    from S3. Raises ObjectNotFound (404)."""
    headers = {"Access-Control-Allow-Origin": "*"}
    path = platform.objects.local_path(key)
    if path is not None:
        platform.objects.head(key)  # raises ObjectNotFound -> 404
        return FileResponse(path, media_type=content_type(key), headers=headers)
    info = platform.objects.head(key)
    headers["Content-Length"] = str(info.size)
    if head:
        return Response(media_type=content_type(key), headers=headers)
    return StreamingResponse(
        platform.objects.iter_bytes(key), media_type=content_type(key), headers=headers
    )


def router(platform: Platform, players: Path = PLAYERS, *, instance: str = "") -> APIRouter:
    api = APIRouter(tags=["media"])
    about_body = {"service": "media", "instance": instance, "version": __version__}

    @api.get("/api/media/about")
    async def about() -> dict[str, str]:
        """Which instance answered: a tiny JSON answer that touches no storage (the gateway
        benchmark, ``bench/gateway_proxy.py``, measures the platform's own cost on it)."""
        return about_body

    @api.get("/", response_class=HTMLResponse)
    def index() -> str:
        return PAGE

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

    @api.get("/api/assets/{asset_id}")
    def get_asset(asset_id: str) -> dict[str, Any]:
        """One packaged asset: its object-store keys, size, duration and tracks."""
        a = platform.assets.get(asset_id)
        if a is None:
            raise HTTPException(404, "There is no asset with this id.")
        keys = ("hls_key", "dash_key", "poster_key", "trickplay_key", "prefix")
        return {
            "id": a.id,
            "title": a.title,
            "duration": a.duration,
            "width": a.width,
            "height": a.height,
            **{k: getattr(a, k) for k in keys},
            "tracks": [
                {
                    "kind": t.kind,
                    "name": t.name,
                    "codecs": t.codecs,
                    "language": t.language,
                    "width": t.width,
                    "height": t.height,
                    "average_bps": t.average_bps,
                    "playlist_key": t.playlist_key,
                }
                for t in a.tracks
            ],
        }

    @api.get("/media/{key:path}")
    def media(key: str) -> Response:
        if not key.startswith("assets/"):
            raise HTTPException(404, "only packaged assets are served")
        return object_response(platform, key)

    @api.get("/players/{path:path}")
    def player_file(path: str) -> FileResponse:
        target = (players / path).resolve()
        if not target.is_relative_to(players) or not target.is_file():
            raise HTTPException(404, "no such player file")
        return FileResponse(target)

    return api
