"""Small synthetic masters, generated once per session: 2 s at 320x180 unless a test needs else.

Each fixture returns the path of one file; broken inputs (empty, text, truncated) are derived from
the good ones with plain byte operations.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from matinee.media import tools
from matinee.media.samples import AudioSpec, SampleSpec, make_sample

SMALL = SampleSpec(width=320, height=180, seconds=2.0)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


def _sample(media_dir: Path, name: str, spec: SampleSpec = SMALL) -> Path:
    return make_sample(media_dir / name, spec)


def _ffmpeg(*args: str | Path) -> None:
    tools.run([tools.binaries().ffmpeg, "-hide_banner", "-v", "error", "-y", *args], what="test")


@pytest.fixture(scope="session")
def plain(media_dir: Path) -> Path:
    """H.264 + one English stereo AAC track; moov at the end (ffmpeg's default, not faststart)."""
    return _sample(media_dir, "plain.mp4")


@pytest.fixture(scope="session")
def faststart(media_dir: Path, plain: Path) -> Path:
    out = media_dir / "faststart.mp4"
    _ffmpeg("-i", plain, "-map", "0", "-c", "copy", "-movflags", "+faststart", out)
    return out


@pytest.fixture(scope="session")
def matroska(media_dir: Path, plain: Path) -> Path:
    out = media_dir / "plain.mkv"
    _ffmpeg("-i", plain, "-map", "0", "-c", "copy", out)
    return out


@pytest.fixture(scope="session")
def rotated_90(media_dir: Path) -> Path:
    """Display matrix rotating 90 degrees counter-clockwise, as samples.SampleSpec means it."""
    return _sample(media_dir, "rot90.mp4", replace(SMALL, rotation=90))


@pytest.fixture(scope="session")
def rotated_270(media_dir: Path) -> Path:
    return _sample(media_dir, "rot270.mp4", replace(SMALL, rotation=-90))


@pytest.fixture(scope="session")
def vfr(media_dir: Path) -> Path:
    return _sample(media_dir, "vfr.mp4", replace(SMALL, vfr=True))


@pytest.fixture(scope="session")
def ntsc(media_dir: Path) -> Path:
    return _sample(media_dir, "ntsc.mp4", replace(SMALL, fps=Fraction(30000, 1001)))


@pytest.fixture(scope="session")
def interlaced(media_dir: Path) -> Path:
    return _sample(media_dir, "interlaced.mp4", replace(SMALL, interlaced=True))


@pytest.fixture(scope="session")
def hdr(media_dir: Path) -> Path:
    return _sample(media_dir, "hdr.mp4", replace(SMALL, hdr=True))


@pytest.fixture(scope="session")
def anamorphic(media_dir: Path) -> Path:
    return _sample(media_dir, "sar.mp4", replace(SMALL, sar=Fraction(4, 3)))


@pytest.fixture(scope="session")
def two_languages(media_dir: Path) -> Path:
    audio = (AudioSpec("eng"), AudioSpec("fra", frequency=660, channels=1))
    return _sample(media_dir, "langs.mp4", replace(SMALL, audio=audio))


@pytest.fixture(scope="session")
def no_audio(media_dir: Path) -> Path:
    return _sample(media_dir, "silent.mp4", replace(SMALL, audio=()))


@pytest.fixture(scope="session")
def too_short(media_dir: Path) -> Path:
    return _sample(media_dir, "short.mp4", replace(SMALL, seconds=0.5))


@pytest.fixture(scope="session")
def too_small(media_dir: Path) -> Path:
    return _sample(media_dir, "tiny.mp4", replace(SMALL, width=48, height=48))


@pytest.fixture(scope="session")
def audio_only(media_dir: Path) -> Path:
    out = media_dir / "audio.m4a"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "aac", out)
    return out


@pytest.fixture(scope="session")
def raw_h264(media_dir: Path, plain: Path) -> Path:
    """An Annex B elementary stream: frames without a container, so without timestamps."""
    out = media_dir / "raw.h264"
    _ffmpeg("-i", plain, "-map", "0:v", "-c", "copy", "-bsf:v", "h264_mp4toannexb", out)
    return out


@pytest.fixture(scope="session")
def still_image(media_dir: Path, plain: Path) -> Path:
    """One PNG frame, named like a video."""
    out = media_dir / "still.mp4"
    _ffmpeg("-i", plain, "-frames:v", "1", "-c:v", "png", "-f", "image2", out)
    return out


@pytest.fixture(scope="session")
def cover_art(media_dir: Path, plain: Path, still_image: Path) -> Path:
    """The plain master plus a cover picture stored as a second (attached) video stream."""
    out = media_dir / "cover.mp4"
    inputs: list[str | Path] = ["-i", plain, "-f", "png_pipe", "-i", still_image]
    _ffmpeg(
        *inputs, "-map", "0", "-map", "1", "-c", "copy", "-disposition:v:1", "attached_pic", out
    )
    return out


@pytest.fixture(scope="session")
def empty(media_dir: Path) -> Path:
    out = media_dir / "empty.mp4"
    out.write_bytes(b"")
    return out


@pytest.fixture(scope="session")
def text_file(media_dir: Path) -> Path:
    out = media_dir / "notes.mp4"
    out.write_text("Final cut notes\nreel 2: fix the colour in the last shot\n", encoding="utf-8")
    return out


def _cut(source: Path, keep: int, name: str) -> Path:
    """The first ``keep`` bytes of ``source`` (negative: all but the last), as a broken copy."""
    out = source.with_name(name)
    out.write_bytes(source.read_bytes()[:keep])
    return out


@pytest.fixture(scope="session")
def truncated_faststart(faststart: Path) -> Path:
    """Index (moov) first, then only 60 % of the media data."""
    return _cut(faststart, faststart.stat().st_size * 6 // 10, "cut-faststart.mp4")


@pytest.fixture(scope="session")
def truncated_before_index(plain: Path) -> Path:
    """Media data first, cut at 60 %: the index at the end never arrived."""
    return _cut(plain, plain.stat().st_size * 6 // 10, "cut-before-index.mp4")


@pytest.fixture(scope="session")
def truncated_in_index(plain: Path) -> Path:
    """Media data first, cut 200 bytes short: the index is there but incomplete."""
    return _cut(plain, -200, "cut-in-index.mp4")


@pytest.fixture(scope="session")
def truncated_matroska(matroska: Path) -> Path:
    return _cut(matroska, matroska.stat().st_size * 6 // 10, "cut.mkv")
