"""validate() on hand-built probe results, and probe_and_validate() on good and broken files."""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from matinee.media.errors import InvalidMaster
from matinee.media.probe import AudioInfo, ProbeResult, VideoInfo, probe
from matinee.media.validate import check_structure, check_tail, probe_and_validate, validate

VIDEO = VideoInfo(
    index=0,
    codec="prores",
    profile="HQ",
    width=1920,
    height=1080,
    sar=Fraction(1),
    rotation=0,
    display_width=1920,
    display_height=1080,
    display_aspect=Fraction(16, 9),
    frame_rate=Fraction(24000, 1001),
    variable_frame_rate=False,
    interlaced=False,
    field_order="progressive",
    pix_fmt="yuv422p10le",
    bit_depth=10,
    color_transfer="bt709",
    color_primaries="bt709",
    color_space="bt709",
    hdr=False,
    frame_count=1439,
    duration=60.0,
)
RESULT = ProbeResult(
    path="/masters/feature.mov",
    container="mov,mp4,m4a,3gp,3g2,mj2",
    format_long_name="QuickTime / MOV",
    duration=60.0,
    size=10**9,
    bit_rate=130_000_000,
    video=VIDEO,
    audio=(AudioInfo(1, "pcm_s24le", 2, "stereo", 48000, "eng", None),),
)


def sized(width: int, height: int, display: tuple[int, int] | None = None) -> ProbeResult:
    dw, dh = display or (width, height)
    return replace(
        RESULT,
        video=replace(VIDEO, width=width, height=height, display_width=dw, display_height=dh),
    )


def lasting(container: float, video: float | None = None) -> ProbeResult:
    video_duration = container if video is None else video
    return replace(RESULT, duration=container, video=replace(VIDEO, duration=video_duration))


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (1920, 1080),
        (7680, 4320),  # UHD-2 8K: exactly the pixel budget
        (4320, 7680),  # the same, shot in portrait
        (8192, 3456),  # DCI 8K scope: the widest side allowed, under the pixel budget
        (64, 64),
    ],
)
def test_sizes_within_limits_pass(width: int, height: int) -> None:
    validate(sized(width, height))


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (8192, 4320),  # DCI 8K full container: 35.4 Mpx, over the 33.2 Mpx budget
        (7681, 4320),  # one column over UHD-2 8K
        (8200, 1000),  # a side over 8192, though few pixels
        (16384, 16384),
    ],
)
def test_above_8k_is_rejected(width: int, height: int) -> None:
    with pytest.raises(InvalidMaster, match=rf"is {width}x{height}, above the 8K limit"):
        validate(sized(width, height))


@pytest.mark.parametrize(("width", "height"), [(63, 480), (640, 32), (16, 16)])
def test_below_64_pixels_is_rejected(width: int, height: int) -> None:
    with pytest.raises(InvalidMaster, match="below the 64 px minimum on a side"):
        validate(sized(width, height))


def test_display_size_below_64_pixels_is_rejected() -> None:
    # 100x100 stored, squeezed by a 1:2 sample aspect ratio to 50x100 on screen.
    with pytest.raises(InvalidMaster, match=r"displayed 50x100\), below the 64 px minimum"):
        validate(sized(100, 100, display=(50, 100)))


@pytest.mark.parametrize("seconds", [0.04, 0.5, 0.999])
def test_under_one_second_is_rejected(seconds: float) -> None:
    with pytest.raises(InvalidMaster, match=r"too short: .* at least 1 s"):
        validate(lasting(seconds))


def test_exactly_one_second_passes() -> None:
    validate(lasting(1.0))


@pytest.mark.parametrize("seconds", [math.nan, -5.0, 0.0, math.inf])
def test_unusable_duration_is_unreadable_timestamps(seconds: float) -> None:
    with pytest.raises(InvalidMaster, match="unreadable timestamps"):
        validate(lasting(seconds))


def test_unusable_video_duration_is_unreadable_timestamps() -> None:
    with pytest.raises(InvalidMaster, match="unreadable timestamps"):
        validate(lasting(60.0, video=math.nan))


@pytest.mark.parametrize(
    "fixture",
    [
        "plain",
        "faststart",
        "matroska",
        "rotated_90",
        "vfr",
        "ntsc",
        "interlaced",
        "hdr",
        "anamorphic",
        "two_languages",
        "no_audio",
        "cover_art",
    ],
)
def test_good_masters_pass(fixture: str, request: pytest.FixtureRequest) -> None:
    path = request.getfixturevalue(fixture)
    assert probe_and_validate(path) == probe(path)


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("empty", r"^the file is empty"),
        ("text_file", r"^not a video file: notes\.mp4 contains text"),
        ("still_image", r"^not a video file: still\.mp4 is a piped png sequence"),
        ("audio_only", r"has no video stream \(found: audio\)"),
        ("raw_h264", r"^unreadable timestamps"),
        ("too_short", r"too short: 0\.\d\d s; a master must last at least 1 s"),
        ("too_small", r"is 48x48 .*below the 64 px minimum"),
        ("truncated_faststart", r"^the file is truncated or unreadable: cut-faststart\.mp4"),
        ("truncated_before_index", r"^the file is truncated or unreadable: cut-before-index"),
        ("truncated_in_index", r"^the file is truncated or unreadable: cut-in-index\.mp4"),
        ("truncated_matroska", r"^the file is truncated or unreadable: cut\.mkv"),
    ],
)
def test_bad_masters_are_rejected_in_plain_words(
    fixture: str, message: str, request: pytest.FixtureRequest
) -> None:
    with pytest.raises(InvalidMaster, match=message):
        probe_and_validate(request.getfixturevalue(fixture))


@pytest.mark.parametrize(
    ("fixture", "box"),
    [
        ("truncated_faststart", "'mdat' box"),
        ("truncated_in_index", "'moov' box"),
        ("truncated_matroska", "Matroska segment"),
    ],
)
def test_structure_check_names_the_overrun(
    fixture: str, box: str, request: pytest.FixtureRequest
) -> None:
    with pytest.raises(InvalidMaster, match=rf"ends inside its {box}"):
        check_structure(request.getfixturevalue(fixture))


@pytest.mark.parametrize("fixture", ["truncated_faststart", "truncated_matroska"])
def test_tail_scan_alone_also_sees_truncation(fixture: str, request: pytest.FixtureRequest) -> None:
    # The container-agnostic second line of defence, for formats without declared sizes.
    result = probe(request.getfixturevalue(fixture))
    with pytest.raises(InvalidMaster, match="the file is truncated or unreadable"):
        check_tail(result)


def test_structure_check_ignores_what_it_cannot_judge(text_file: Path, empty: Path) -> None:
    check_structure(text_file)
    check_structure(empty)
    check_structure(text_file.with_name("missing.mp4"))
