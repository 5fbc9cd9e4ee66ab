"""Titles for the steering tests: packaged assets in the object store with their rows, and
catalog titles linked to them (through the catalog's admin API, as an admin would).

* :func:`synthetic_asset` - a package's layout (manifests, two video renditions, audio) with
  random bytes for segments: enough for listing, fill and serving, not for decoding;
* :func:`packaged_asset` - a real CMAF title (H.264/AAC, 2 s segments) a browser can play,
  encoded from a generated master with the bundled ffmpeg and Shaka Packager.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from matinee.assets.models import Asset, Track
from matinee.gateway.auth import Identity
from matinee.media import tools
from matinee.media.samples import SampleSpec, make_sample
from matinee.platform import Platform

from .harness import CdnPlatform

DATA = Path(__file__).parents[2] / "unit" / "delivery" / "data"
ADMIN = Identity(subject="admin-1", roles=("admin",))
SEGMENT_S = 2
RENDITIONS = (("video_360", 640, 360, "500k"), ("video_180", 320, 180, "150k"))


def _row(asset_id: str, title: str, tracks: list[Track], duration: float) -> Asset:
    prefix = f"assets/{asset_id}"
    return Asset(
        id=asset_id,
        job_id=str(uuid.uuid4()),
        title=title,
        prefix=prefix,
        hls_key=f"{prefix}/master.m3u8",
        dash_key=f"{prefix}/manifest.mpd",
        duration=duration,
        width=640,
        height=360,
        probe={},
        created_at=datetime.now(UTC),
        tracks=tracks,
    )


def synthetic_asset(
    platform: Platform, title: str, *, segments: int, sizes: dict[str, int], seed: int
) -> tuple[str, dict[str, int]]:
    """A package of random segments: ``sizes`` per video rendition folder (e.g.
    ``video/720p-3000k``), ``segments`` each, plus audio. Returns its id and its files
    (object key -> size)."""
    asset_id = str(uuid.uuid4())
    prefix = f"assets/{asset_id}/"
    rng = random.Random(seed)
    files: dict[str, bytes] = {
        "master.m3u8": (DATA / "master.m3u8").read_bytes(),
        "manifest.mpd": (DATA / "manifest.mpd").read_bytes(),
    }
    for folder, size in {**sizes, "audio/eng-0": 4_000}.items():
        files[f"{folder}/index.m3u8"] = b"#EXTM3U\n"
        files[f"{folder}/init.mp4"] = rng.randbytes(600)
        for n in range(1, segments + 1):
            files[f"{folder}/{n:05d}.m4s"] = rng.randbytes(size)
    for name, body in files.items():
        platform.objects.put_bytes(prefix + name, body)
    tracks = [Track(kind="video", name=f.split("/")[1], width=1280, height=720) for f in sizes]
    platform.assets.add(_row(asset_id, title, tracks, float(segments * 4)))
    return asset_id, {prefix + name: len(body) for name, body in files.items()}


def packaged_asset(platform: Platform, work: Path, *, seconds: float = 30.0) -> str:
    """A real, playable title of ``seconds`` (two renditions and audio, 2 s CMAF segments,
    HLS and DASH manifests) in the object store, with its rows; returns its id."""
    master = make_sample(
        work / "master.mp4", SampleSpec(width=640, height=360, fps=Fraction(25), seconds=seconds)
    )
    ffmpeg = tools.binaries().ffmpeg
    encoded = work / "encoded"
    encoded.mkdir(parents=True, exist_ok=True)
    args: list[str | Path] = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-i", master]
    for name, width, height, bitrate in RENDITIONS:
        args += ["-map", "0:v:0", "-an", "-vf", f"scale={width}:{height}"]
        args += ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main"]
        args += ["-pix_fmt", "yuv420p", "-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate]
        # Keyframes exactly at every segment boundary and nowhere else, closed GOPs.
        args += ["-force_key_frames", f"expr:gte(t,n_forced*{SEGMENT_S})"]
        args += ["-g", "250", "-keyint_min", "250", "-sc_threshold", "0", "-flags", "+cgop"]
        args.append(encoded / f"{name}.mp4")
    args += ["-map", "0:a:0", "-vn", "-c:a", "aac", "-b:a", "64k", "-ac", "2"]
    args.append(encoded / "audio.mp4")
    tools.run(args, what="encode the steering test title")
    package = work / "package"
    package.mkdir(exist_ok=True)
    streams = [
        f"in={encoded / name}.mp4,stream=video,init_segment={name}/init.mp4,"
        f"segment_template={name}/$Number$.m4s,playlist_name={name}/index.m3u8"
        for name, *_ in RENDITIONS
    ]
    streams.append(
        f"in={encoded / 'audio.mp4'},stream=audio,init_segment=audio/init.mp4,"
        "segment_template=audio/$Number$.m4s,playlist_name=audio/index.m3u8,"
        "hls_group_id=audio,hls_name=English"
    )
    packager: list[str | Path] = [tools.binaries().packager, *streams]
    packager += ["--segment_duration", str(SEGMENT_S), "--generate_static_live_mpd"]
    packager += ["--mpd_output", "manifest.mpd", "--hls_master_playlist_output", "master.m3u8"]
    tools.run(packager, what="package the steering test title", cwd=package)
    asset_id = str(uuid.uuid4())
    for path in sorted(package.rglob("*")):
        if path.is_file():
            platform.objects.put_file(f"assets/{asset_id}/{path.relative_to(package)}", path)
    tracks = [
        Track(kind="video", name=name, width=w, height=h, codecs="avc1")
        for name, w, h, _ in RENDITIONS
    ]
    tracks.append(Track(kind="audio", name="audio", language="eng", codecs="mp4a.40.2"))
    platform.assets.add(_row(asset_id, "Steering test title", tracks, seconds))
    return asset_id


def catalog_title(
    cdn: CdnPlatform,
    name: str,
    asset_id: str,
    *,
    countries: tuple[str, ...] = ("US",),
    starts_at: str = "2020-01-01T00:00:00Z",
) -> str:
    """A published movie playing ``asset_id``, available in ``countries`` from ``starts_at``."""
    body: dict[str, Any] = {"kind": "movie", "name": name, "maturity": 0, "release_year": 2020}
    created = cdn.json_call("catalog", "POST", "/api/catalog/titles", body, identity=ADMIN)
    title_id: str = created["id"]
    windows = [{"country": c, "starts_at": starts_at} for c in countries]
    path = f"/api/catalog/titles/{title_id}"
    cdn.json_call("catalog", "PUT", f"{path}/availability", {"windows": windows}, identity=ADMIN)
    cdn.json_call("catalog", "POST", f"{path}/asset", {"asset_id": asset_id}, identity=ADMIN)
    cdn.json_call("catalog", "POST", f"{path}/publish", identity=ADMIN)
    return title_id


def play(cdn: CdnPlatform, title_id: str, country: str, times: int) -> None:
    """``times`` members in ``country`` start ``title_id`` (a start event each)."""
    now = datetime.now(UTC).timestamp()
    for n in range(times):
        who = Identity(
            subject=f"acct-{country}-{n}",
            profile=f"prof-{uuid.uuid4().hex[:8]}",
            country=country,
        )
        event = {
            "event_id": f"start-{uuid.uuid4().hex[:8]}",
            "kind": "start",
            "title_id": title_id,
            "position_s": 0,
            "duration_s": 60,
            "client_ts": now - 10,
        }
        cdn.json_call("history", "POST", "/api/history/events", {"events": [event]}, identity=who)
