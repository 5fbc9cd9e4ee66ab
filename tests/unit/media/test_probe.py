"""probe() on small synthetic masters: every field of ProbeResult, VideoInfo and AudioInfo."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from matinee.media import tools
from matinee.media.errors import InvalidMaster, ToolError
from matinee.media.probe import ProbeResult, probe


def test_container_fields(plain: Path) -> None:
    result = probe(plain)
    assert result.path == str(plain)
    assert result.container == "mov,mp4,m4a,3gp,3g2,mj2"
    assert result.format_long_name == "QuickTime / MOV"
    assert result.duration == pytest.approx(2.0, abs=0.05)
    assert result.size == plain.stat().st_size
    assert result.bit_rate is not None
    assert result.bit_rate > 0


def test_video_stream_of_a_plain_master(plain: Path) -> None:
    video = probe(plain).video
    assert (video.index, video.codec, video.profile) == (0, "h264", "High")
    assert (video.width, video.height) == (320, 180)
    assert video.sar == 1
    assert video.rotation == 0
    assert (video.display_width, video.display_height) == (320, 180)
    assert video.display_aspect == Fraction(16, 9)
    assert video.frame_rate == 25
    assert not video.variable_frame_rate
    assert not video.interlaced
    assert video.field_order == "progressive"
    assert (video.pix_fmt, video.bit_depth) == ("yuv420p", 8)
    assert (video.color_transfer, video.color_primaries, video.color_space) == (None, None, None)
    assert not video.hdr
    assert video.frame_count == 50
    assert video.duration == pytest.approx(2.0, abs=0.05)


def test_audio_track(plain: Path) -> None:
    (audio,) = probe(plain).audio
    assert (audio.index, audio.codec) == (1, "aac")
    assert (audio.channels, audio.channel_layout, audio.sample_rate) == (2, "stereo", 48000)
    assert (audio.language, audio.title) == ("eng", None)


def test_two_audio_languages(two_languages: Path) -> None:
    audio = probe(two_languages).audio
    assert [a.language for a in audio] == ["eng", "fra"]
    assert [(a.channels, a.channel_layout) for a in audio] == [(2, "stereo"), (1, "mono")]
    assert [a.index for a in audio] == [1, 2]


def test_attached_picture_is_not_the_primary_video(cover_art: Path) -> None:
    result = probe(cover_art)
    assert (result.video.index, result.video.codec) == (0, "h264")
    assert [a.index for a in result.audio] == [1]


def test_no_audio(no_audio: Path) -> None:
    result = probe(no_audio)
    assert result.audio == ()
    assert result.video.codec == "h264"


def test_non_square_pixels_widen_the_display(anamorphic: Path) -> None:
    video = probe(anamorphic).video
    assert (video.width, video.height) == (320, 180)  # storage is untouched
    assert video.sar == Fraction(4, 3)
    assert (video.display_width, video.display_height) == (427, 180)  # 320 * 4/3 = 426.67
    assert video.display_aspect == Fraction(427, 180)


@pytest.mark.parametrize(
    ("fixture", "clockwise"),
    [("rotated_90", 270), ("rotated_270", 90)],
)
def test_rotation_is_clockwise_and_swaps_display(
    fixture: str, clockwise: int, request: pytest.FixtureRequest
) -> None:
    # SampleSpec.rotation is counter-clockwise (ffmpeg's -display_rotation): 90 ccw = 270 cw.
    video = probe(request.getfixturevalue(fixture)).video
    assert video.rotation == clockwise
    assert (video.width, video.height) == (320, 180)
    assert (video.display_width, video.display_height) == (180, 320)
    assert video.display_aspect == Fraction(9, 16)


# Clockwise rotation -> the filter that applies it.
_TURN = {90: "transpose=clock", 180: "hflip,vflip", 270: "transpose=cclock"}


def test_rotation_matches_ffmpeg_autorotate(rotated_90: Path, tmp_path: Path) -> None:
    video = probe(rotated_90).video
    ffmpeg = tools.binaries().ffmpeg
    upright = tmp_path / "upright.mp4"
    tools.run(
        [ffmpeg, "-v", "error", "-i", rotated_90, "-frames:v", "1", "-an", upright],
        what="autorotate one frame",
    )
    shown = probe(upright).video
    assert (shown.width, shown.height) == (video.display_width, video.display_height)

    def gray_frame(name: str, *args: str | Path) -> bytes:
        out = tmp_path / name
        raw: list[str | Path] = ["-frames:v", "1", "-pix_fmt", "gray", "-f", "rawvideo", out]
        tools.run([ffmpeg, "-v", "error", *args, *raw], what=f"decode {name}")
        return out.read_bytes()

    autorotated = gray_frame("auto.gray", "-i", rotated_90)
    ours = gray_frame("ours.gray", "-noautorotate", "-i", rotated_90, "-vf", _TURN[video.rotation])
    assert autorotated == ours


def test_constant_ntsc_rate_is_exact(ntsc: Path) -> None:
    video = probe(ntsc).video
    assert video.frame_rate == Fraction(30000, 1001)
    assert not video.variable_frame_rate


def test_variable_frame_rate(vfr: Path) -> None:
    video = probe(vfr).video
    assert video.variable_frame_rate
    assert video.frame_rate == 25  # the rate the dropped frames were taken from
    assert video.frame_count is not None
    assert video.frame_count < 50


def test_interlaced(interlaced: Path) -> None:
    video = probe(interlaced).video
    assert video.interlaced
    assert video.field_order == "tt"
    assert video.frame_rate == 25


def test_ten_bit_hdr(hdr: Path) -> None:
    video = probe(hdr).video
    assert (video.codec, video.profile) == ("hevc", "Main 10")
    assert (video.pix_fmt, video.bit_depth) == ("yuv420p10le", 10)
    assert video.color_transfer == "smpte2084"
    assert video.color_primaries == "bt2020"
    assert video.color_space == "bt2020nc"
    assert video.hdr


def test_matroska_counts_frames_and_falls_back_to_container_duration(matroska: Path) -> None:
    result = probe(matroska)
    assert result.container == "matroska,webm"
    assert result.video.frame_count == 50  # no nb_frames in Matroska: counted by the scan
    assert result.video.duration == pytest.approx(2.0, abs=0.05)
    assert [a.language for a in result.audio] == ["eng"]


@pytest.mark.parametrize("fixture", ["plain", "anamorphic", "hdr", "vfr", "two_languages"])
def test_json_round_trip(fixture: str, request: pytest.FixtureRequest) -> None:
    result = probe(request.getfixturevalue(fixture))
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert ProbeResult.from_dict(data) == result


def test_json_uses_fraction_strings(anamorphic: Path) -> None:
    data = probe(anamorphic).to_dict()
    video = data["video"]
    assert isinstance(video, dict)
    assert (video["sar"], video["frame_rate"], video["display_aspect"]) == (
        "4/3",
        "25/1",
        "427/180",
    )


def test_from_dict_rejects_malformed_input(plain: Path) -> None:
    data = probe(plain).to_dict()
    with pytest.raises(TypeError, match="VideoInfo must be a JSON object"):
        ProbeResult.from_dict({**data, "video": "nope"})
    with pytest.raises(KeyError):
        ProbeResult.from_dict({k: v for k, v in data.items() if k != "size"})


def test_ffprobe_failure_is_converted_with_its_cause(text_file: Path) -> None:
    with pytest.raises(InvalidMaster, match="not a video file") as caught:
        probe(text_file)
    assert isinstance(caught.value.__cause__, ToolError)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidMaster, match="does not exist"):
        probe(tmp_path / "nowhere.mp4")


def test_binary_garbage(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mov"
    junk.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(InvalidMaster, match="not a video file, or damaged beyond reading"):
        probe(junk)
