"""The ladder config (validation, the default table) and its fit to a master (plan_ladder)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from matinee.media.errors import InvalidLadder
from matinee.media.ladder import (
    DEFAULT_LADDER,
    X264_PRESETS,
    Ladder,
    PlannedRung,
    Rung,
    output_fps,
    plan_ladder,
)
from matinee.media.probe import VideoInfo

# Apple's HLS authoring specification, H.264 video ladder: (width, height, kbps, max fps).
APPLE_TABLE = [
    (416, 234, 145, 30),
    (640, 360, 365, 30),
    (768, 432, 730, 30),
    (768, 432, 1100, 30),
    (960, 540, 2000, 60),
    (1280, 720, 3000, 60),
    (1280, 720, 4500, 60),
    (1920, 1080, 6000, 60),
    (1920, 1080, 7800, 60),
]


def video(
    width: int,
    height: int,
    fps: Fraction | int = 25,
    *,
    sar: Fraction = Fraction(1),
    rotation: int = 0,
) -> VideoInfo:
    """A probed master's video stream, as probe() describes it."""
    display_w, display_h = int(width * sar + Fraction(1, 2)), height
    if rotation in (90, 270):
        display_w, display_h = display_h, display_w
    return VideoInfo(
        index=0,
        codec="h264",
        profile="High",
        width=width,
        height=height,
        sar=sar,
        rotation=rotation,
        display_width=display_w,
        display_height=display_h,
        display_aspect=Fraction(display_w, display_h),
        frame_rate=Fraction(fps),
        variable_frame_rate=False,
        interlaced=False,
        field_order="progressive",
        pix_fmt="yuv420p",
        bit_depth=8,
        color_transfer=None,
        color_primaries=None,
        color_space=None,
        hdr=False,
        frame_count=None,
        duration=10.0,
    )


def raw_ladder(**changes: Any) -> dict[str, Any]:
    """The default ladder as raw config (what a user would write), with some fields changed."""
    data = DEFAULT_LADDER.model_dump(mode="json")
    data.update(changes)
    return data


def raw_rungs(*rungs: dict[str, Any]) -> list[dict[str, Any]]:
    return list(rungs)


# --- validation ------------------------------------------------------------------------------


def test_the_default_ladder_round_trips_through_its_raw_form() -> None:
    assert Ladder.parse(raw_ladder()) == DEFAULT_LADDER


BAD_LADDERS = [
    pytest.param(
        raw_ladder(
            rungs=raw_rungs(
                {"width": 640, "height": 360, "bitrate_kbps": 800},
                {"width": 1280, "height": 720, "bitrate_kbps": 10},
            )
        ),
        "rungs.1.bitrate_kbps: Input should be greater than or equal to 50",
        id="bitrate-too-low",
    ),
    pytest.param(
        raw_ladder(rungs=raw_rungs({"width": 641, "height": 360, "bitrate_kbps": 800})),
        "rungs.0.width: Input should be a multiple of 2",
        id="odd-width",
    ),
    pytest.param(
        raw_ladder(rungs=raw_rungs({"width": 640, "height": 32, "bitrate_kbps": 800})),
        "rungs.0.height: Input should be greater than or equal to 64",
        id="too-small",
    ),
    pytest.param(
        raw_ladder(rungs=raw_rungs({"width": 640, "height": 360})),
        "rungs.0.bitrate_kbps: Field required",
        id="missing-bitrate",
    ),
    pytest.param(
        raw_ladder(rungs=raw_rungs({"width": 640, "height": 360, "bitrate": 800})),
        "rungs.0.bitrate: Extra inputs are not permitted",
        id="misspelt-field",
    ),
    pytest.param(
        raw_ladder(rungs=raw_rungs({"width": 640, "height": 360, "bitrate_kbps": "fast"})),
        "rungs.0.bitrate_kbps: Input should be a valid integer",
        id="not-a-number",
    ),
    pytest.param(raw_ladder(rungs=[]), "rungs: Tuple should have at least 1 item", id="no-rungs"),
    pytest.param(raw_ladder(preset="superslow"), "preset must be one of", id="unknown-preset"),
    pytest.param(
        raw_ladder(
            rungs=raw_rungs(
                {"width": 640, "height": 360, "bitrate_kbps": 800},
                {"width": 640, "height": 360, "bitrate_kbps": 800},
            )
        ),
        "rungs must be unique",
        id="duplicate-rungs",
    ),
    pytest.param(raw_ladder(profile="high10"), "profile: Input should be", id="unknown-profile"),
    pytest.param(raw_ladder(segment_seconds=0.5), "segment_seconds:", id="segments-too-short"),
    pytest.param(raw_ladder(audio_channels=6), "audio_channels:", id="surround-audio"),
    pytest.param(["not", "a", "ladder"], "ladder: Input should be", id="not-a-mapping"),
]


@pytest.mark.parametrize(("data", "expected"), BAD_LADDERS)
def test_invalid_ladders_are_rejected_naming_the_field(data: object, expected: str) -> None:
    with pytest.raises(InvalidLadder) as raised:
        Ladder.parse(data)
    message = str(raised.value)
    assert message.startswith("invalid ladder: "), message
    assert expected in message, message


def test_unknown_preset_message_lists_the_valid_presets() -> None:
    with pytest.raises(InvalidLadder) as raised:
        Ladder.parse(raw_ladder(preset="superslow"))
    assert all(p in str(raised.value) for p in X264_PRESETS)


def test_every_problem_is_reported_at_once() -> None:
    data = raw_ladder(
        rungs=raw_rungs({"width": 641, "height": 360, "bitrate_kbps": 10}), audio_channels=6
    )
    with pytest.raises(InvalidLadder) as raised:
        Ladder.parse(data)
    message = str(raised.value)
    for field in ("rungs.0.width", "rungs.0.bitrate_kbps", "audio_channels"):
        assert f"{field}:" in message, message


# --- the default ladder ----------------------------------------------------------------------


def test_default_ladder_is_apples_authoring_table() -> None:
    table = [(r.width, r.height, r.bitrate_kbps, r.max_fps) for r in DEFAULT_LADDER.rungs]
    assert table == APPLE_TABLE
    assert (DEFAULT_LADDER.video_codec, DEFAULT_LADDER.profile) == ("h264", "high")
    assert (DEFAULT_LADDER.audio_bitrate_kbps, DEFAULT_LADDER.audio_channels) == (128, 2)
    assert [r.name for r in DEFAULT_LADDER.rungs][:2] == ["234p-145k", "360p-365k"]


def test_a_1080p_master_gets_the_whole_table_at_its_exact_sizes() -> None:
    planned = plan_ladder(DEFAULT_LADDER, video(1920, 1080, 25))
    assert [(p.width, p.height, p.bitrate_kbps) for p in planned] == [
        (w, h, kbps) for w, h, kbps, _ in APPLE_TABLE
    ]


# --- fitting the ladder to a master ----------------------------------------------------------


def test_a_720p_master_gets_no_1080p_rungs() -> None:
    planned = plan_ladder(DEFAULT_LADDER, video(1280, 720, 25))
    assert [p.name for p in planned] == [
        "234p-145k",
        "360p-365k",
        "432p-730k",
        "432p-1100k",
        "540p-2000k",
        "720p-3000k",
        "720p-4500k",
    ]
    assert all(p.width <= 1280 and p.height <= 720 for p in planned)
    assert (planned[-1].width, planned[-1].height) == (1280, 720)


@pytest.mark.parametrize(
    ("source", "cap", "expected"),
    [
        (Fraction(60), 30.0, Fraction(30)),
        (Fraction(60), 60.0, Fraction(60)),
        (Fraction(60000, 1001), 30.0, Fraction(30000, 1001)),
        (Fraction(60000, 1001), 60.0, Fraction(60000, 1001)),
        (Fraction(50), 30.0, Fraction(25)),
        (Fraction(48), 30.0, Fraction(24)),
        (Fraction(120), 30.0, Fraction(30)),
        (Fraction(100), 30.0, Fraction(25)),
        (Fraction(24), 30.0, Fraction(24)),
        (Fraction(24), 60.0, Fraction(24)),
        (Fraction(24000, 1001), 30.0, Fraction(24000, 1001)),
        (Fraction(25), 30.0, Fraction(25)),
        (Fraction(30000, 1001), 30.0, Fraction(30000, 1001)),
        (Fraction(15), 60.0, Fraction(15)),
        # A cap written as the NTSC rate to two decimals still lets that rate through.
        (Fraction(30000, 1001), 29.97, Fraction(30000, 1001)),
        (Fraction(60000, 1001), 29.97, Fraction(30000, 1001)),
    ],
)
def test_output_fps_divides_the_source_rate_by_a_whole_number(
    source: Fraction, cap: float, expected: Fraction
) -> None:
    result = output_fps(source, cap)
    assert result == expected
    assert result <= source
    assert (source / result).denominator == 1  # frames stay evenly spaced


@pytest.mark.parametrize(
    ("fps", "capped", "uncapped"),
    [
        (Fraction(60), Fraction(30), Fraction(60)),
        (Fraction(60000, 1001), Fraction(30000, 1001), Fraction(60000, 1001)),
        (Fraction(24), Fraction(24), Fraction(24)),
    ],
)
def test_planned_rates_follow_each_rungs_cap_and_never_exceed_the_source(
    fps: Fraction, capped: Fraction, uncapped: Fraction
) -> None:
    planned = plan_ladder(DEFAULT_LADDER, video(1920, 1080, fps))
    by_cap = {p.name: p.fps for p in planned}
    assert by_cap == {p.name: (capped if p.rung.max_fps <= 30 else uncapped) for p in planned}
    assert all(p.fps <= fps for p in planned)


@pytest.mark.parametrize(
    ("width", "height", "aspect", "rungs"),
    [
        pytest.param(1440, 1080, Fraction(4, 3), 9, id="4:3"),
        pytest.param(640, 480, Fraction(4, 3), 4, id="4:3-SD"),
        pytest.param(1920, 804, Fraction(1920, 804), 9, id="2.39:1"),
        pytest.param(1280, 536, Fraction(1280, 536), 7, id="2.39:1-720p"),
    ],
)
def test_display_aspect_is_kept_inside_each_rungs_box(
    width: int, height: int, aspect: Fraction, rungs: int
) -> None:
    planned = plan_ladder(DEFAULT_LADDER, video(width, height))
    assert len(planned) == rungs
    for p in planned:
        assert p.width % 2 == 0
        assert p.height % 2 == 0
        assert p.width <= p.rung.width
        assert p.height <= p.rung.height
        assert p.width <= width
        assert p.height <= height
        # Even sizes are at most one pixel off the exact shape on either side.
        assert abs(Fraction(p.width, p.height) - aspect) <= aspect * Fraction(2, p.height)
        # The box is filled on one side: the output is the largest that fits.
        assert p.width == p.rung.width or p.height == p.rung.height


def test_non_square_pixels_are_planned_at_the_displayed_shape() -> None:
    planned = plan_ladder(DEFAULT_LADDER, video(640, 360, sar=Fraction(4, 3)))  # shown 853x360
    assert [(p.width, p.height) for p in planned] == [
        (416, 176),
        (640, 270),
        (768, 324),
        (768, 324),
    ]
    assert all(p.width <= 853 for p in planned)


def test_a_rotated_master_is_planned_portrait() -> None:
    planned = plan_ladder(DEFAULT_LADDER, video(1920, 1080, rotation=90))  # shown 1080x1920
    assert planned
    for p in planned:
        assert p.height > p.width
        assert p.height <= p.rung.height
        assert abs(Fraction(p.width, p.height) - Fraction(9, 16)) <= Fraction(2, p.height)


@pytest.mark.parametrize(
    ("size", "expected"),
    [((100, 80), (100, 80)), ((101, 81), (100, 80)), ((200, 64), (200, 64))],
    ids=["100x80", "odd-101x81", "wide-200x64"],
)
def test_a_master_smaller_than_every_rung_gets_one_rung_at_its_own_size(
    size: tuple[int, int], expected: tuple[int, int]
) -> None:
    (planned,) = plan_ladder(DEFAULT_LADDER, video(*size))
    assert (planned.width, planned.height) == expected
    assert planned.rung == DEFAULT_LADDER.rungs[0]  # the cheapest rung's bitrate
    assert planned.fps == 25


def test_planned_rung_round_trips_through_json() -> None:
    rung = Rung(width=1280, height=720, bitrate_kbps=3000)
    planned = PlannedRung(rung, 1280, 536, Fraction(30000, 1001))
    assert PlannedRung.from_dict(planned.to_dict()) == planned
    assert planned.to_dict()["fps"] == "30000/1001"
