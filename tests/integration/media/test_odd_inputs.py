"""Odd studio masters go through the real ingest and come out as clean, standard renditions.

Each master is ingested once (see conftest); these checks read the package with ffprobe and
ffmpeg's analysis filters, never with matinee's own probe.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from matinee.jobs.models import JobState
from matinee.media.samples import SampleSpec, make_sample
from matinee.platform import Platform, SubtitleFile

from .conftest import (
    FPS,
    MPD_NS,
    PLAYABLE_SECONDS,
    Title,
    displayed_aspect,
    ffprobe,
    idet,
    ingest_title,
    luma,
    ssim_of_thumbnail,
    ssim_to_master,
    video_packets,
    video_stream,
)

pytestmark = pytest.mark.slow

# SSIM of the top rung against the master as displayed: a faithful rendition measured 0.95 to
# 0.97 here; a squashed, cropped or wrongly rotated one measured 0.3 to 0.7.
MIN_SSIM = 0.9
ASPECT_TOLERANCE = 0.015
# A 160 px JPEG thumbnail cut from a small rung: upright measured 0.80, sideways 0.31.
MIN_THUMB_SSIM = 0.6


def _rotation(stream: dict[str, object]) -> list[object]:
    """Every way a stream can ask the player to rotate it: display matrix or "rotate" tag."""
    side = stream.get("side_data_list") or []
    tags = stream.get("tags") or {}
    assert isinstance(side, list)
    assert isinstance(tags, dict)
    found = [d for d in side if isinstance(d, dict) and "rotation" in d]
    return found + ([tags["rotate"]] if "rotate" in tags else [])


def _gaps(packets: list[tuple[int, int]]) -> set[int]:
    """The distinct intervals between consecutive presentation times."""
    return {b[0] - a[0] for a, b in itertools.pairwise(packets)}


# --- picture shape ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "stored", "sar"),
    [("odd_size_title", (641, 361), "1:1"), ("anamorphic_title", (640, 360), "4:3")],
    ids=["odd-641x361", "anamorphic-sar-4:3"],
)
def test_odd_shapes_become_square_pixels_at_the_displayed_aspect(
    fixture: str, stored: tuple[int, int], sar: str, request: pytest.FixtureRequest
) -> None:
    title: Title = request.getfixturevalue(fixture)
    source = video_stream(title.master)
    assert (source["width"], source["height"]) == stored
    assert source.get("sample_aspect_ratio", "1:1") == sar
    aspect = displayed_aspect(title.master)

    for variant, track in title.video_tracks():
        s = video_stream(track)
        width, height = int(s["width"]), int(s["height"])
        assert variant.resolution == (width, height)
        assert s["sample_aspect_ratio"] == "1:1", variant.uri
        assert width % 2 == 0, variant.uri
        assert height % 2 == 0, variant.uri
        assert width / height == pytest.approx(aspect, rel=ASPECT_TOLERANCE), variant.uri
    assert ssim_to_master(title.top_track(), title.master) >= MIN_SSIM


def test_rotated_master_is_published_upright(rotated_title: Title) -> None:
    source = video_stream(rotated_title.master)
    assert (source["width"], source["height"]) == (640, 360)
    assert _rotation(source), "the master should carry a display rotation"

    for variant, track in rotated_title.video_tracks():
        s = video_stream(track)
        width, height = int(s["width"]), int(s["height"])
        assert height > width, f"{variant.uri} is {width}x{height}, not portrait"
        assert variant.resolution == (width, height)
        assert _rotation(s) == [], f"{variant.uri} still asks the player to rotate it"
        assert width / height == pytest.approx(360 / 640, rel=ASPECT_TOLERANCE)
    # Upright the right way round: the pixels match the master as a player rotates it.
    assert ssim_to_master(rotated_title.top_track(), rotated_title.master) >= MIN_SSIM
    asset = rotated_title.platform.assets.get(rotated_title.job_id)
    assert asset is not None
    assert asset.height > asset.width
    # Every rung was scored upright against the upright master (a rung left with a stray
    # rotation was read sideways and scored 0).
    scores = {t.name: t.vmaf_mean for t in asset.tracks if t.kind == "video"}
    assert all(v is not None and v >= 50 for v in scores.values()), scores

    # The artwork is upright too: the poster is portrait, and the first seek-bar thumbnail
    # shows the master's first frame the right way round.
    poster = video_stream(rotated_title.root / "poster.jpg")
    assert poster["height"] > poster["width"]
    cue = rotated_title.text("trickplay/thumbs.vtt").split("\n\n")[1].splitlines()[1]
    sheet, _, xywh = cue.partition("#xywh=")
    x, y, w, h = (int(n) for n in xywh.split(","))
    assert h > w
    thumb = ssim_of_thumbnail(
        rotated_title.root / "trickplay" / sheet, (x, y, w, h), rotated_title.master
    )
    assert thumb >= MIN_THUMB_SSIM, thumb


# --- timing ----------------------------------------------------------------------------------


def test_variable_frame_rate_becomes_constant(vfr_title: Title) -> None:
    assert len(_gaps(video_packets(vfr_title.master))) > 1, "the master should be irregular"
    master_seconds = float(ffprobe(vfr_title.master, "-show_format")["format"]["duration"])

    for variant, track in vfr_title.video_tracks():
        s = video_stream(track)
        assert s["r_frame_rate"] == s["avg_frame_rate"] == f"{FPS}/1", variant.uri
        assert variant.attributes["FRAME-RATE"] == f"{FPS}.000"
        ticks_per_frame = int(s["time_base"].split("/")[1]) // FPS
        packets = video_packets(track)
        assert {d for _, d in packets} == {ticks_per_frame}, variant.uri
        assert _gaps(packets) == {ticks_per_frame}, variant.uri
        # The whole master is there: no frame lost, at most one frame over.
        assert 0 <= len(packets) / FPS - master_seconds <= 1 / FPS + 1e-6, variant.uri


def test_interlaced_master_is_deinterlaced(interlaced_title: Title) -> None:
    source = video_stream(interlaced_title.master)
    assert source["field_order"] in ("tt", "bb", "tb", "bt")
    source_idet = idet(interlaced_title.master)
    assert source_idet.interlaced_share >= 0.8, source_idet

    for variant, track in interlaced_title.video_tracks():
        s = video_stream(track)
        assert s.get("field_order", "unknown") in ("progressive", "unknown"), variant.uri
        # One output frame per input frame: deinterlacing keeps 25 fps, not 50 fields.
        assert s["r_frame_rate"] == f"{FPS}/1"
        # Measured: 4 and 9 of 150 frames, all at the very start (idet's warm-up). A rung with
        # two-line steps in its luma scored 0.29; the interlaced master scores 1.0.
        found = idet(track)
        assert found.interlaced_share <= 0.1, f"{variant.uri}: {found}"


# --- colour ----------------------------------------------------------------------------------


def _assert_8bit_bt709_h264(track: Path, where: str) -> None:
    s = video_stream(track)
    assert (s["codec_name"], s["pix_fmt"]) == ("h264", "yuv420p"), where
    assert s.get("bits_per_raw_sample", "8") == "8", where
    tags = (s.get("color_primaries"), s.get("color_transfer"), s.get("color_space"))
    assert tags == ("bt709", "bt709", "bt709"), where


def test_hdr_master_is_tone_mapped_to_8bit_bt709(hdr_title: Title) -> None:
    source = video_stream(hdr_title.master)
    assert (source["pix_fmt"], source["color_transfer"]) == ("yuv420p10le", "smpte2084")

    for variant, track in hdr_title.video_tracks():
        _assert_8bit_bt709_h264(track, variant.uri)
        assert variant.attributes.get("VIDEO-RANGE", "SDR") == "SDR"
        assert not variant.attributes["CODECS"].startswith(("hvc1", "hev1"))
    # Neither black nor washed out: a mid-range average over a real spread of light and dark
    # (on the 16-235 video scale; a flat grey or black frame has a spread near 0).
    stats = luma(hdr_title.top_track())
    assert 40 <= stats.mean <= 200, stats
    assert stats.high - stats.low >= 100, stats


def test_sdr_master_renditions_are_tagged_bt709(av_title: Title) -> None:
    source = video_stream(av_title.master)
    assert source.get("color_transfer") is None, "the plain master is untagged"
    for variant, track in av_title.video_tracks():
        _assert_8bit_bt709_h264(track, variant.uri)


# --- audio -----------------------------------------------------------------------------------


def test_master_without_audio_gives_a_video_only_package(video_only_title: Title) -> None:
    assert (
        ffprobe(video_only_title.master, "-show_streams", "-select_streams", "a")["streams"] == []
    )
    master = video_only_title.text("master.m3u8")
    assert video_only_title.media("AUDIO") == []
    variants = video_only_title.variants()
    assert len(variants) == 2
    for v in variants:
        assert "AUDIO" not in v.attributes, v
        assert "mp4a" not in v.attributes["CODECS"], v
    assert "TYPE=AUDIO" not in master
    assert video_only_title.adaptation_sets("audio") == []
    assert len(video_only_title.adaptation_sets("video")) == 1
    assert not (video_only_title.root / "audio").exists()
    asset = video_only_title.platform.assets.get(video_only_title.job_id)
    assert asset is not None
    assert {t.kind for t in asset.tracks} == {"video"}


def test_audio_without_a_language_tag_is_packaged(untagged_audio_title: Title) -> None:
    asset = untagged_audio_title.platform.assets.get(untagged_audio_title.job_id)
    assert asset is not None
    (audio,) = [t for t in asset.tracks if t.kind == "audio"]
    assert audio.language in (None, "und")
    assert len(untagged_audio_title.adaptation_sets("audio")) == 1
    (group,) = untagged_audio_title.media("AUDIO")
    assert group["NAME"] == "Unknown"


def test_every_audio_language_is_kept(av_title: Title) -> None:
    audio = av_title.media("AUDIO")
    assert sorted(a["LANGUAGE"] for a in audio) == ["en", "fr"]
    assert {a["LANGUAGE"]: a["NAME"] for a in audio} == {"en": "English", "fr": "Français"}
    assert len({a["GROUP-ID"] for a in audio}) == 1
    assert [a["LANGUAGE"] for a in audio if a.get("DEFAULT") == "YES"] == ["en"]
    group = audio[0]["GROUP-ID"]
    for v in av_title.variants():
        assert v.attributes.get("AUDIO") == group, v

    sets = av_title.adaptation_sets("audio")
    assert sorted(str(a.get("lang")) for a in sets) == ["en", "fr"]

    tracks = [av_title.track(a["URI"]) for a in audio]
    for track in tracks:
        (stream,) = ffprobe(track, "-show_streams")["streams"]
        assert (stream["codec_type"], stream["codec_name"]) == ("audio", "aac")
        assert (stream["sample_rate"], stream["channels"]) == ("48000", 2)
        assert float(stream["duration"]) == pytest.approx(PLAYABLE_SECONDS, abs=0.1)
    # Two languages, two different sources (440 Hz and 660 Hz tones), not one mapped twice.
    assert tracks[0].read_bytes() != tracks[1].read_bytes()

    asset = av_title.platform.assets.get(av_title.job_id)
    assert asset is not None
    assert sorted(t.language or "" for t in asset.tracks if t.kind == "audio") == ["eng", "fra"]


# --- subtitles -------------------------------------------------------------------------------


def test_srt_and_webvtt_sidecars_become_webvtt_tracks(av_title: Title) -> None:
    subs = av_title.media("SUBTITLES")
    assert sorted(s["LANGUAGE"] for s in subs) == ["en", "fr"]
    group = subs[0]["GROUP-ID"]
    assert {s["GROUP-ID"] for s in subs} == {group}
    for v in av_title.variants():
        assert v.attributes.get("SUBTITLES") == group, v

    expected = {
        "en": ["Hello from the <i>SRT</i> sidecar", "Second English line"],
        "fr": ["Bonjour depuis le fichier WebVTT", "Deuxième ligne"],
    }
    # DASH: segmented WebVTT in fragmented MP4 (wvtt), the form DASH players load.
    sets = av_title.adaptation_sets("text")
    assert sorted(str(a.get("lang")) for a in sets) == ["en", "fr"]
    for adaptation in sets:
        (rep,) = adaptation.iterfind("mpd:Representation", MPD_NS)
        assert (rep.get("mimeType"), rep.get("codecs")) == ("application/mp4", "wvtt")
        init, segments = av_title.dash_segments(rep)
        assert init is not None
        assert b"wvtt" in init.read_bytes()
        payload = b"".join(p.read_bytes() for p in segments)
        for cue in expected[str(adaptation.get("lang"))]:
            assert cue.encode() in payload, f"{cue!r} missing from the DASH text segments"

    # HLS: WebVTT text segments.
    for sub in subs:
        init, segments = av_title.segments(sub["URI"])
        assert init is None
        assert segments, sub
        texts = [p.read_text(encoding="utf-8") for p in segments]
        for path, text in zip(segments, texts, strict=True):
            assert text.startswith("WEBVTT"), f"{path.name} does not start with WEBVTT"
        joined = "\n".join(texts)
        for cue in expected[sub["LANGUAGE"]]:
            assert cue in joined, joined
        timings = [ln for ln in joined.splitlines() if "-->" in ln]
        assert timings, joined
        assert all("," not in ln for ln in timings), "SRT-style timestamps left in WebVTT"

    asset = av_title.platform.assets.get(av_title.job_id)
    assert asset is not None
    assert sorted(t.language or "" for t in asset.tracks if t.kind == "text") == ["eng", "fra"]


@pytest.fixture(scope="module")
def tiny_master(masters: Path) -> Path:
    return make_sample(masters / "tiny.mp4", SampleSpec(width=320, height=180, seconds=2.0))


@pytest.mark.parametrize(
    "case",
    [
        # (file name, content, what the job's error must say)
        ("notes.srt", "Final cut notes: fix the colour in reel 2.\n", "could not be read"),
        ("empty.vtt", "WEBVTT\n\nthis line is not a cue\n", "no WebVTT cues"),
        ("captions.txt", "00:00:01 Hello\n", "only SRT and WebVTT"),
    ],
    ids=["garbage-srt", "vtt-without-cues", "unsupported-format"],
)
def test_invalid_subtitles_fail_the_job_with_a_clear_message(
    media_platform: Platform, tiny_master: Path, tmp_path: Path, case: tuple[str, str, str]
) -> None:
    name, content, reason = case
    sidecar = tmp_path / name
    sidecar.write_text(content, encoding="utf-8")
    title = ingest_title(media_platform, tiny_master, tmp_path, (SubtitleFile("eng", sidecar),))

    assert title.state is JobState.FAILED
    assert title.error is not None
    assert "subtitles" in title.error, title.error
    assert reason in title.error, title.error
    assert "internal error" not in title.error, title.error
    # Nothing half-published.
    assert media_platform.assets.get(title.job_id) is None
    assert list(media_platform.objects.list(f"assets/{title.job_id}/")) == []
