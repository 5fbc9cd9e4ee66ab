"""Masters and helpers for the ingest pipeline's integration tests.

Masters are tiny synthetic files (640x360, 25 fps, a keyframe every second so chunks can cut every
2 s), generated once per session. Everything runs for real: ffmpeg, Shaka Packager, SQLite and
worker processes. The helpers read what the pipeline wrote back with ffprobe.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from matinee.jobs.models import JobState
from matinee.media import tools
from matinee.media.samples import SampleSpec, make_sample
from matinee.platform import Platform
from matinee.storage import ObjectStore

MakePlatform = Callable[..., Platform]

FPS = 25
SEGMENT_SECONDS = 2.0
# Chunks of one segment each, so even a 6 s master is encoded as several chunks and stitched.
PIPELINE_SETTINGS: dict[str, Any] = {"chunk_seconds": 2.0, "segment_seconds": SEGMENT_SECONDS}


def master_spec(seconds: float) -> SampleSpec:
    return SampleSpec(width=640, height=360, fps=Fraction(FPS), seconds=seconds, gop=FPS)


@pytest.fixture(scope="session")
def masters_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("masters")


@pytest.fixture(scope="session")
def short_master(masters_dir: Path) -> Path:
    """8 s of 640x360 at 25 fps with one English stereo AAC track."""
    return make_sample(masters_dir / "short.mp4", master_spec(8.0))


@pytest.fixture(scope="session")
def long_master(masters_dir: Path) -> Path:
    """12 s: six 2 s chunks, so a job can be interrupted with some chunks done and some not."""
    return make_sample(masters_dir / "long.mp4", master_spec(12.0))


@pytest.fixture
def platform(make_platform: MakePlatform) -> Platform:
    return make_platform(**PIPELINE_SETTINGS)


# --- reading results back --------------------------------------------------------------------


def keys_under(store: ObjectStore, prefix: str) -> list[str]:
    return sorted(info.key for info in store.list(prefix))


def ffprobe(path: Path, *args: str) -> dict[str, Any]:
    argv = [tools.binaries().ffprobe, "-v", "error", "-print_format", "json", *args, str(path)]
    report: dict[str, Any] = json.loads(tools.run(argv, what=f"test probe of {path.name}").stdout)
    return report


@dataclass(frozen=True)
class Packet:
    pts: float
    duration: float
    key: bool


def video_packets(path: Path) -> list[Packet]:
    """The first video stream's packets in presentation order (demuxed, not decoded)."""
    report = ffprobe(
        path, "-select_streams", "v:0", "-show_entries", "packet=pts_time,duration_time,flags"
    )
    packets = [
        Packet(float(p["pts_time"]), float(p["duration_time"]), "K" in p["flags"])
        for p in report["packets"]
    ]
    return sorted(packets, key=lambda p: p.pts)


def span(packets: list[Packet]) -> float:
    """Presentation time from the first frame's start to the last frame's end."""
    return max(p.pts + p.duration for p in packets) - min(p.pts for p in packets)


_EXTINF = re.compile(r"#EXTINF:([0-9.]+)")


def media_playlist(store: ObjectStore, key: str) -> tuple[list[float], list[str]]:
    """A media playlist's segment durations and segment keys, in order."""
    base = key.rsplit("/", 1)[0]
    durations, segments = [], []
    for line in store.read_bytes(key).decode().splitlines():
        if m := _EXTINF.match(line):
            durations.append(float(m.group(1)))
        elif line and not line.startswith("#"):
            segments.append(f"{base}/{line}")
    return durations, segments


def assemble(store: ObjectStore, playlist_key: str, out: Path) -> Path:
    """Concatenate a CMAF track's init segment and media segments into one playable file."""
    text = store.read_bytes(playlist_key).decode()
    init = re.search(r'#EXT-X-MAP:URI="([^"]+)"', text)
    assert init is not None, f"{playlist_key} has no init segment"
    base = playlist_key.rsplit("/", 1)[0]
    _, segments = media_playlist(store, playlist_key)
    with out.open("wb") as f:
        for key in [f"{base}/{init.group(1)}", *segments]:
            f.write(store.read_bytes(key))
    return out


def assert_nothing_published(platform: Platform, job_id: str) -> None:
    """A failed job leaves no package, no scratch objects and no asset row behind."""
    assert keys_under(platform.objects, "assets/") == []
    assert keys_under(platform.objects, "work/") == []
    assert platform.assets.get(job_id) is None
    assert platform.jobs.get(job_id).state is JobState.FAILED


def cli_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment for a ``matinee`` subprocess: this test's data directory and settings,
    and none of the caller's own MATINEE_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MATINEE_")}
    env["MATINEE_DATA_DIR"] = str(data_dir)
    env.update({f"MATINEE_{name.upper()}": value for name, value in settings.items()})
    return env
