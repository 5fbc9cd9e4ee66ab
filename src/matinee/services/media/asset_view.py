"""One packaged asset as the assets API shows it: the rows the pipeline recorded (keys, size,
duration, tracks with their bitrates and VMAF) plus URLs of its poster and trickplay files."""

from __future__ import annotations

from matinee.assets.models import Asset, Track
from matinee.services.media.schemas import AssetOut, Thumbnails, TrackOut
from matinee.storage import ObjectStore

SPRITE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def media_url(key: str | None) -> str | None:
    """The unsigned URL of a packaged object (``/media/<key>``)."""
    return None if key is None else f"/media/{key}"


def sprite_keys(objects: ObjectStore, trickplay_key: str | None) -> list[str]:
    """The sprite sheets beside the trickplay index, in order."""
    if trickplay_key is None or "/" not in trickplay_key:
        return []
    folder = trickplay_key.rpartition("/")[0] + "/"
    return sorted(
        info.key
        for info in objects.list(folder)
        if info.key.lower().endswith(SPRITE_SUFFIXES) and "/" not in info.key[len(folder) :]
    )


def track_out(track: Track) -> TrackOut:
    return TrackOut(
        kind=track.kind,
        name=track.name,
        codecs=track.codecs,
        language=track.language,
        width=track.width,
        height=track.height,
        frame_rate=track.frame_rate,
        target_kbps=track.target_kbps,
        average_bps=track.average_bps,
        peak_bps=track.peak_bps,
        vmaf=track.vmaf_mean,
        vmaf_min=track.vmaf_min,
        playlist_key=track.playlist_key,
    )


def asset_out(asset: Asset, objects: ObjectStore) -> AssetOut:
    """``asset`` (tracks loaded) for the API; lists the object store for the sprite sheets."""
    poster = media_url(asset.poster_key)
    return AssetOut(
        id=asset.id,
        title=asset.title,
        duration=asset.duration,
        width=asset.width,
        height=asset.height,
        hls_key=asset.hls_key,
        dash_key=asset.dash_key,
        poster_key=asset.poster_key,
        trickplay_key=asset.trickplay_key,
        prefix=asset.prefix,
        hls=f"/media/{asset.hls_key}",
        dash=f"/media/{asset.dash_key}",
        poster=poster,
        thumbnails=Thumbnails(
            poster=poster,
            trickplay=media_url(asset.trickplay_key),
            sprites=[f"/media/{k}" for k in sprite_keys(objects, asset.trickplay_key)],
        ),
        created_at=asset.created_at,
        tracks=[track_out(t) for t in asset.tracks],
    )
