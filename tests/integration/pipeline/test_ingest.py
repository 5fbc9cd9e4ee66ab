"""A full ingest of a short master with audio, checked from the outside: the database rows, the
packaged files (read back with ffprobe), the manifests, the artwork and the CLI listing."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import pytest
from typer.testing import CliRunner

from matinee.assets.models import Asset
from matinee.cli import app
from matinee.jobs.models import JobState, TaskState
from matinee.platform import Platform
from matinee.settings import Settings
from matinee.testing.pipeline import ingest

from .conftest import (
    FPS,
    SEGMENT_SECONDS,
    assemble,
    ffprobe,
    keys_under,
    media_playlist,
    span,
    video_packets,
)

pytestmark = pytest.mark.slow

FRAME = 1 / FPS
MASTER_SECONDS = 8.0
# Two chunks of two segments each: a chunk starts on an IDR, and one more is forced mid-chunk.
CHUNK_SECONDS = 4.0
# A 640x360 master gets only the ladder's rungs that fit inside it.
EXPECTED_RUNGS = {"234p-145k": (416, 234), "360p-365k": (640, 360)}
MPD_NS = "{urn:mpeg:dash:schema:mpd:2011}"


@pytest.fixture(scope="module")
def published(
    tmp_path_factory: pytest.TempPathFactory, short_master: Path
) -> tuple[Platform, Asset]:
    """One ingest, shared by the checks below (they only read what it produced)."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("ingest") / "data",
        x264_preset="ultrafast",
        workers=2,
        chunk_seconds=CHUNK_SECONDS,
        segment_seconds=SEGMENT_SECONDS,
    )
    platform = Platform(settings)
    job_id, state = ingest(platform, short_master, "Short film")
    assert state is JobState.SUCCEEDED, platform.jobs.get(job_id).error
    asset = platform.assets.get(job_id)
    assert asset is not None
    return platform, asset


def _video_tracks(asset: Asset) -> dict[str, tuple[str, int, int]]:
    """Rung name -> (playlist key, width, height)."""
    return {
        t.name: (t.playlist_key or "", t.width or 0, t.height or 0)
        for t in asset.tracks
        if t.kind == "video"
    }


def test_the_job_succeeds_and_publishes_an_asset_with_its_tracks(
    published: tuple[Platform, Asset],
) -> None:
    platform, asset = published
    job = platform.jobs.get(asset.job_id)
    assert (job.state, job.stage, job.error) == (JobState.SUCCEEDED, "done", None)
    assert all(t.state is TaskState.DONE and t.attempts == 1 for t in job.tasks)
    encode_tasks = [t for t in job.tasks if t.name.startswith("encode-")]
    assert len(encode_tasks) == MASTER_SECONDS / CHUNK_SECONDS  # encoded in chunks, stitched
    assert asset.title == "Short film"
    assert (asset.width, asset.height) == (640, 360)
    assert asset.duration == pytest.approx(MASTER_SECONDS, abs=FRAME)
    assert {n: (w, h) for n, (_, w, h) in _video_tracks(asset).items()} == EXPECTED_RUNGS
    audio = [t for t in asset.tracks if t.kind == "audio"]
    assert [(t.language, t.codecs) for t in audio] == [("eng", "mp4a.40.2")]
    for track in asset.tracks:
        assert track.playlist_key is not None
        assert platform.objects.exists(track.playlist_key)
        assert track.average_bps is not None
        assert track.peak_bps is not None
        assert 0 < track.average_bps <= track.peak_bps
    assert platform.objects.exists(asset.hls_key)
    assert platform.objects.exists(asset.dash_key)


def test_every_rendition_keeps_every_frame_and_the_duration(
    published: tuple[Platform, Asset], short_master: Path, tmp_path: Path
) -> None:
    platform, asset = published
    source = video_packets(short_master)
    assert len(source) == MASTER_SECONDS * FPS
    for name, (playlist, _, _) in _video_tracks(asset).items():
        packaged = video_packets(assemble(platform.objects, playlist, tmp_path / f"{name}.mp4"))
        assert abs(len(packaged) - len(source)) <= 1, name
        assert span(packaged) == pytest.approx(span(source), abs=FRAME + 1e-3), name


def _segments_and_keyframes(
    platform: Platform, asset: Asset, tmp_path: Path
) -> dict[str, tuple[list[float], list[float]]]:
    """Rung name -> (its segment durations from the media playlist, its keyframe times from the
    packaged segments, measured from the first frame)."""
    found = {}
    for name, (playlist, _, _) in _video_tracks(asset).items():
        durations, _ = media_playlist(platform.objects, playlist)
        packets = video_packets(assemble(platform.objects, playlist, tmp_path / f"{name}.mp4"))
        start = packets[0].pts
        found[name] = (durations, [round(p.pts - start, 3) for p in packets if p.key])
    return found


def test_every_rendition_has_the_same_segments_and_keyframes(
    published: tuple[Platform, Asset], tmp_path: Path
) -> None:
    found = _segments_and_keyframes(*published, tmp_path)
    assert set(found) == set(EXPECTED_RUNGS)
    segments = {name: durations for name, (durations, _) in found.items()}
    keyframes = {name: times for name, (_, times) in found.items()}
    assert len({tuple(d) for d in segments.values()}) == 1, segments
    assert len({tuple(k) for k in keyframes.values()}) == 1, keyframes


def test_keyframes_fall_exactly_on_segment_boundaries(
    published: tuple[Platform, Asset], tmp_path: Path
) -> None:
    expected_starts = [i * SEGMENT_SECONDS for i in range(round(MASTER_SECONDS / SEGMENT_SECONDS))]
    for name, (durations, keyframes) in _segments_and_keyframes(*published, tmp_path).items():
        # Whole segments of the configured length (the master is a whole number of them)...
        assert durations == [SEGMENT_SECONDS] * len(expected_starts), name
        # ...each starting with an IDR, and no keyframe anywhere else.
        assert keyframes == expected_starts, name


def test_the_hls_master_describes_every_variant_and_the_audio_group(
    published: tuple[Platform, Asset],
) -> None:
    platform, asset = published
    lines = platform.objects.read_bytes(asset.hls_key).decode().splitlines()
    variants = {
        uri: dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1]))
        for line, uri in itertools.pairwise(lines)
        if line.startswith("#EXT-X-STREAM-INF:")
    }
    assert set(variants) == {f"video/{name}/index.m3u8" for name in EXPECTED_RUNGS}
    for uri, attrs in variants.items():
        for attr in ("CODECS", "RESOLUTION", "FRAME-RATE", "BANDWIDTH", "AVERAGE-BANDWIDTH"):
            assert attrs.get(attr), f"{uri} lacks {attr}"
        assert attrs["AUDIO"] == '"audio"', uri
        assert re.fullmatch(r'"avc1\.[0-9a-f]{6},mp4a\.40\.2"', attrs["CODECS"]), uri
        assert 0 < int(attrs["AVERAGE-BANDWIDTH"]) <= int(attrs["BANDWIDTH"]), uri
        width, height = EXPECTED_RUNGS[uri.split("/")[1]]
        assert attrs["RESOLUTION"] == f"{width}x{height}"
        assert float(attrs["FRAME-RATE"]) == pytest.approx(FPS)
    audio = [ln for ln in lines if ln.startswith("#EXT-X-MEDIA:") and "TYPE=AUDIO" in ln]
    assert len(audio) == 1
    assert 'GROUP-ID="audio"' in audio[0]
    assert 'URI="audio/eng-0/index.m3u8"' in audio[0]


def test_the_dash_manifest_is_static(published: tuple[Platform, Asset]) -> None:
    platform, asset = published
    mpd = ET.fromstring(platform.objects.read_bytes(asset.dash_key))  # noqa: S314 - our own output
    assert mpd.get("type") == "static"
    assert mpd.get("mediaPresentationDuration")
    sizes = {
        (int(r.get("width", 0)), int(r.get("height", 0)))
        for r in mpd.iter(f"{MPD_NS}Representation")
        if r.get("width")
    }
    assert sizes == set(EXPECTED_RUNGS.values())


def test_the_ladder_never_exceeds_the_source_resolution_or_frame_rate(
    published: tuple[Platform, Asset], tmp_path: Path
) -> None:
    platform, asset = published
    for track in asset.tracks:
        if track.kind != "video":
            continue
        assert track.frame_rate is not None
        assert Fraction(track.frame_rate) <= FPS
        path = assemble(platform.objects, track.playlist_key or "", tmp_path / f"{track.name}.mp4")
        (stream,) = ffprobe(path, "-show_streams", "-select_streams", "v:0")["streams"]
        assert (stream["width"], stream["height"]) == (track.width, track.height)
        assert stream["width"] <= 640
        assert stream["height"] <= 360
        assert Fraction(stream["avg_frame_rate"]) <= FPS


def test_vmaf_is_stored_for_every_rung(published: tuple[Platform, Asset]) -> None:
    _, asset = published
    scores = {t.name: (t.vmaf_mean, t.vmaf_min) for t in asset.tracks if t.kind == "video"}
    assert set(scores) == set(EXPECTED_RUNGS)
    for name, (mean, minimum) in scores.items():
        assert mean is not None, name
        assert minimum is not None, name
        assert 0 < mean <= 100, name
        assert 0 <= minimum <= mean, name


def test_poster_and_trickplay_are_published(published: tuple[Platform, Asset]) -> None:
    platform, asset = published
    assert asset.poster_key == f"{asset.prefix}/poster.jpg"
    assert platform.objects.read_bytes(asset.poster_key)[:3] == b"\xff\xd8\xff"  # a JPEG
    assert asset.trickplay_key == f"{asset.prefix}/trickplay/thumbs.vtt"
    vtt = platform.objects.read_bytes(asset.trickplay_key).decode()
    assert vtt.startswith("WEBVTT")
    sprites = set(re.findall(r"^(sprite_\d+\.jpg)#xywh=\d+,\d+,\d+,\d+$", vtt, re.MULTILINE))
    assert sprites
    for sprite in sprites:
        key = f"{asset.prefix}/trickplay/{sprite}"
        assert platform.objects.read_bytes(key)[:3] == b"\xff\xd8\xff", key


def test_scratch_space_is_cleaned_up_and_the_master_kept(
    published: tuple[Platform, Asset], short_master: Path
) -> None:
    platform, asset = published
    assert keys_under(platform.objects, "work/") == []
    (master,) = keys_under(platform.objects, f"masters/{asset.job_id}/")
    assert platform.objects.head(master).size == short_master.stat().st_size
    leftovers = [p for p in platform.settings.work_dir.rglob("*") if p.is_file()]
    assert leftovers == []


def test_the_assets_command_lists_renditions_and_vmaf(
    published: tuple[Platform, Asset], monkeypatch: pytest.MonkeyPatch
) -> None:
    platform, asset = published
    monkeypatch.setenv("MATINEE_DATA_DIR", str(platform.settings.data_dir))
    monkeypatch.setenv("COLUMNS", "200")  # Rich would otherwise shorten cells to 80 columns

    result = CliRunner().invoke(app, ["assets"])

    assert result.exit_code == 0, result.output
    assert "Short film" in result.output
    for track in asset.tracks:
        assert f"{track.kind} {track.name}" in result.output
        if track.kind == "video":
            assert f"{track.width}x{track.height}" in result.output
            assert f"{track.vmaf_mean:.2f}" in result.output
            assert f"{track.vmaf_min:.2f}" in result.output
