"""The media service's JSON answers (pydantic), with the examples OpenAPI shows: uploads,
jobs with per-task progress, and one packaged asset."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from matinee.jobs.models import JobState, TaskState

_ID = "9b2f0c4e-5d1a-4c7e-8f3b-2a6d9e1c0b74"
_AT = "2026-06-01T12:00:00Z"
_TASK_EXAMPLE: dict[str, Any] = {
    "name": "encode-360p-800k-0003",
    "kind": "encode",
    "stage": "encode",
    "state": "running",
    "progress": 0.42,
    "attempts": 1,
    "error": None,
}
_TRACK_EXAMPLE: dict[str, Any] = {
    "kind": "video",
    "name": "720p-3000k",
    "codecs": "avc1.64001f",
    "language": None,
    "width": 1280,
    "height": 720,
    "frame_rate": "25",
    "target_kbps": 3000,
    "average_bps": 2875000,
    "peak_bps": 4410000,
    "vmaf": 94.2,
    "vmaf_min": 81.7,
    "playlist_key": f"assets/{_ID}/video/720p-3000k/index.m3u8",
}
_THUMBNAILS_EXAMPLE: dict[str, Any] = {
    "poster": f"/media/assets/{_ID}/poster.jpg",
    "trickplay": f"/media/assets/{_ID}/trickplay/thumbs.vtt",
    "sprites": [f"/media/assets/{_ID}/trickplay/sprite_0001.jpg"],
}


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class UploadForm(BaseModel):
    """The upload form's fields, from ``Upload-Metadata``."""

    model_config = _examples({"filename": "bunny.mov", "title": "Big Buck Bunny", "title_id": None})

    filename: str
    title: str
    title_id: str | None = None


class UploadStatus(BaseModel):
    """Where an upload stands. ``state``: ``uploading`` (bytes still to come), ``assembling``
    (all bytes here, the master is being joined) or ``submitted`` (``job_id`` names its job,
    which is also the future asset's id)."""

    model_config = _examples(
        {
            "id": _ID,
            "offset": 8388608,
            "length": 20971520,
            "state": "uploading",
            "job_id": None,
            "metadata": {"filename": "bunny.mov", "title": "Big Buck Bunny", "title_id": None},
            "created_at": _AT,
        }
    )

    id: str
    offset: int
    length: int
    state: Literal["uploading", "assembling", "submitted"]
    job_id: str | None
    metadata: UploadForm
    created_at: datetime


class TaskOut(BaseModel):
    """One task of a job (``kind`` is what it runs: probe, encode, vmaf ...)."""

    model_config = _examples(_TASK_EXAMPLE)

    name: str
    kind: str
    stage: str
    state: TaskState
    progress: float
    attempts: int
    error: str | None


_JOB_EXAMPLE: dict[str, Any] = {
    "id": _ID,
    "kind": "ingest",
    "title": "Big Buck Bunny",
    "state": "running",
    "stage": "encode",
    "progress": 0.31,
    "error": None,
    "asset_id": None,
    "created_at": _AT,
    "updated_at": "2026-06-01T12:00:41Z",
    "finished_at": None,
    "metadata": {
        "filename": "bunny.mov",
        "title": "Big Buck Bunny",
        "title_id": None,
        "upload_id": _ID,
        "uploaded_by": "account-1",
        "size": 20971520,
    },
    "tasks": [_TASK_EXAMPLE],
}


class JobOut(BaseModel):
    """An ingest job: state, stage, overall progress (0..1) and every task's progress.
    ``asset_id`` is set once the job has published its asset (the job then runs on while the
    ``qc`` stage scores its VMAF); ``error`` says why a job failed or, on one that succeeded,
    what failed after publication; ``metadata`` is what the upload form said (empty for
    masters ingested from the command line)."""

    model_config = _examples(_JOB_EXAMPLE)

    id: str
    kind: str
    title: str
    state: JobState
    stage: str
    progress: float
    error: str | None
    asset_id: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    metadata: dict[str, Any]
    tasks: list[TaskOut]


class JobPage(BaseModel):
    """Recent jobs, newest first; pass ``next_cursor`` back as ``cursor`` for older ones."""

    model_config = _examples({"items": [_JOB_EXAMPLE], "next_cursor": None})

    items: list[JobOut]
    next_cursor: str | None


class TrackOut(BaseModel):
    """A video rendition, an audio or a text track. Video tracks carry their VMAF (mean and
    minimum, 0-100) and their average and peak bitrates as packaged."""

    model_config = _examples(_TRACK_EXAMPLE)

    kind: str
    name: str
    codecs: str | None
    language: str | None
    width: int | None
    height: int | None
    frame_rate: str | None
    target_kbps: int | None
    average_bps: int | None
    peak_bps: int | None
    vmaf: float | None
    vmaf_min: float | None
    playlist_key: str | None


class Thumbnails(BaseModel):
    """URLs of the poster and of the trickplay thumbnails: the WebVTT index (cues point into
    the sprite sheets with ``#xywh=``) and the sprite sheets themselves."""

    model_config = _examples(_THUMBNAILS_EXAMPLE)

    poster: str | None
    trickplay: str | None
    sprites: list[str]


class AssetOut(BaseModel):
    """One packaged asset: object-store keys (``*_key``, ``prefix``), URLs (``hls``,
    ``dash``, ``poster``, ``thumbnails``), duration in seconds, size, and its tracks."""

    model_config = _examples(
        {
            "id": _ID,
            "title": "Big Buck Bunny",
            "duration": 596.5,
            "width": 1920,
            "height": 1080,
            "hls_key": f"assets/{_ID}/master.m3u8",
            "dash_key": f"assets/{_ID}/manifest.mpd",
            "poster_key": f"assets/{_ID}/poster.jpg",
            "trickplay_key": f"assets/{_ID}/trickplay/thumbs.vtt",
            "prefix": f"assets/{_ID}",
            "hls": f"/media/assets/{_ID}/master.m3u8",
            "dash": f"/media/assets/{_ID}/manifest.mpd",
            "poster": f"/media/assets/{_ID}/poster.jpg",
            "thumbnails": _THUMBNAILS_EXAMPLE,
            "created_at": _AT,
            "tracks": [_TRACK_EXAMPLE],
        }
    )

    id: str
    title: str
    duration: float
    width: int
    height: int
    hls_key: str
    dash_key: str
    poster_key: str | None
    trickplay_key: str | None
    prefix: str
    hls: str
    dash: str
    poster: str | None
    thumbnails: Thumbnails
    created_at: datetime
    tracks: list[TrackOut]
