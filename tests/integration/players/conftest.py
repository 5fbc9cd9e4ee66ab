"""Fixtures for the player harness: a small packaged CMAF title, a static server and Chromium.

The title is made here directly from the bundled tools, so the harness can be developed and
tested without matinee's ingest pipeline: an 8 s 640x360 25 fps H.264/AAC master, two video
renditions and one audio rendition with keyframes every 4 s, packaged by Shaka Packager into
4 s CMAF segments with an HLS master playlist and a static DASH MPD.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from matinee.media import tools
from matinee.media.samples import SampleSpec, make_sample
from matinee.testing.players import StaticServer, chromium, serve

SEGMENT_SECONDS = 4
# (name, width, height, video bitrate)
RENDITIONS = (("video_360", 640, 360, "600k"), ("video_216", 384, 216, "250k"))


def package_title(work: Path) -> Path:
    """Encode and package a small title under ``work``; return the directory holding it."""
    master = make_sample(
        work / "master.mp4",
        SampleSpec(width=640, height=360, fps=Fraction(25), seconds=8.0),
    )
    ffmpeg = tools.binaries().ffmpeg
    encoded = work / "encoded"
    encoded.mkdir()
    args: list[str | Path] = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-i", master]
    for name, width, height, bitrate in RENDITIONS:
        args += ["-map", "0:v:0", "-an", "-vf", f"scale={width}:{height}"]
        args += ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main"]
        args += ["-pix_fmt", "yuv420p", "-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate]
        # Keyframes exactly every 4 s in every rendition, so segments align across the ladder:
        # forced keyframes at t = 0, 4, 8 ..., no others (-g/-keyint_min past the segment length,
        # no scene-cut keyframes), and closed GOPs so each segment decodes on its own.
        args += ["-force_key_frames", f"expr:gte(t,n_forced*{SEGMENT_SECONDS})"]
        args += ["-g", "100", "-keyint_min", "100", "-sc_threshold", "0", "-flags", "+cgop"]
        args.append(encoded / f"{name}.mp4")
    args += ["-map", "0:a:0", "-vn", "-c:a", "aac", "-b:a", "96k", "-ac", "2"]
    args.append(encoded / "audio.mp4")
    tools.run(args, what="encode test renditions")

    title = work / "title"
    title.mkdir()
    streams = [
        f"in={encoded / name}.mp4,stream=video,init_segment={name}/init.mp4,"
        f"segment_template={name}/$Number$.m4s,playlist_name={name}.m3u8"
        for name, *_ in RENDITIONS
    ]
    streams.append(
        f"in={encoded / 'audio.mp4'},stream=audio,init_segment=audio/init.mp4,"
        "segment_template=audio/$Number$.m4s,playlist_name=audio.m3u8,"
        "hls_group_id=audio,hls_name=English"
    )
    packager: list[str | Path] = [tools.binaries().packager, *streams]
    packager += ["--segment_duration", str(SEGMENT_SECONDS)]
    # With segment templates the packager writes a dynamic (live) MPD unless told otherwise;
    # this flag makes it a static, VOD MPD that still uses SegmentTemplate/SegmentTimeline.
    packager += ["--generate_static_live_mpd"]
    packager += ["--mpd_output", "manifest.mpd", "--hls_master_playlist_output", "master.m3u8"]
    tools.run(packager, what="package test title", cwd=title)
    return title


@pytest.fixture(scope="session")
def packaged_title(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return package_title(tmp_path_factory.mktemp("players"))


@pytest.fixture(scope="session")
def server(packaged_title: Path) -> Iterator[StaticServer]:
    with serve(packaged_title) as running:
        yield running


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    # Package scope, not session: Playwright's sync API keeps an event loop running in this
    # thread while it is open, and later tests call asyncio.run().
    with chromium() as launched:
        yield launched
