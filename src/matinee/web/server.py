"""A small web app: lists published titles and plays them with Shaka Player.

Media is served from the object store: in place from a local directory (with byte ranges), or
streamed from S3.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, Response, StreamingResponse

from matinee.platform import Platform
from matinee.web import errors
from matinee.web.page import PAGE

PLAYERS = Path(__file__).resolve().parents[3] / "web" / "players" / "node_modules"
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


def create_app(platform: Platform) -> FastAPI:
    app = FastAPI(title="matinee", version="0.1.0")
    errors.install(app)

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return PAGE

    @app.get("/api/assets")
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

    @app.get("/media/{key:path}")
    def media(key: str) -> Response:
        if not key.startswith("assets/"):
            raise HTTPException(404, "only packaged assets are served")
        headers = {"Access-Control-Allow-Origin": "*"}
        path = platform.objects.local_path(key)
        if path is not None:
            info = platform.objects.head(key)  # raises ObjectNotFound -> 404
            del info
            return FileResponse(path, media_type=content_type(key), headers=headers)
        info = platform.objects.head(key)
        headers["Content-Length"] = str(info.size)
        return StreamingResponse(
            platform.objects.iter_bytes(key), media_type=content_type(key), headers=headers
        )

    @app.get("/players/{path:path}")
    def players(path: str) -> FileResponse:
        target = (PLAYERS / path).resolve()
        if not target.is_relative_to(PLAYERS) or not target.is_file():
            raise HTTPException(404, "no such player file")
        return FileResponse(target)

    return app


def serve(platform: Platform) -> None:
    import uvicorn  # noqa: PLC0415

    settings = platform.settings
    print(f"matinee is serving on http://{settings.host}:{settings.port}/")
    uvicorn.run(create_app(platform), host=settings.host, port=settings.port, log_level="warning")
