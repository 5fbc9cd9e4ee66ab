"""Asset rows as the ingest pipeline records them, for tests that need published titles but no
encoding (``matinee seed`` and the services read only the rows)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from matinee.assets.models import Asset, Track


def sample_asset(title: str) -> Asset:
    """A packaged 720p/360p asset row with one English audio track (no files behind it)."""
    asset_id = str(uuid.uuid4())
    prefix = f"assets/{asset_id}"
    tracks = [
        Track(kind="video", name=f"video_{h}p", width=h * 16 // 9, height=h, codecs="avc1")
        for h in (360, 720)
    ]
    tracks.append(Track(kind="audio", name="audio_eng", language="eng", codecs="mp4a.40.2"))
    return Asset(
        id=asset_id,
        job_id=str(uuid.uuid4()),
        title=title,
        prefix=prefix,
        hls_key=f"{prefix}/master.m3u8",
        dash_key=f"{prefix}/manifest.mpd",
        poster_key=f"{prefix}/poster.jpg",
        duration=10.0,
        width=1280,
        height=720,
        probe={},
        created_at=datetime.now(UTC),
        tracks=tracks,
    )
