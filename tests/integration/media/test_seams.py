"""Chunked encoding leaves no seam: a rendition encoded as several chunks and stitched together
scores the same VMAF as the same rung encoded in one piece with the same encoder settings.

The master has motion everywhere (a Mandelbrot zoom), 8 s with a keyframe every second, and the
pipeline cuts it into 2 s chunks. The one-piece encode goes through the same functions as the
pipeline (split, then both x264 passes), only with a chunk longer than the master.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pytest

from matinee.media import encode, quality
from matinee.media.ladder import plan_ladder
from matinee.media.probe import probe
from matinee.media.samples import SampleSpec, make_sample
from matinee.platform import Platform
from matinee.settings import Settings

from .conftest import FPS, PLATFORM_SETTINGS, Title, ffprobe, ingest_title, succeeded

pytestmark = pytest.mark.slow

MASTER_SECONDS = 8.0
CHUNK_SECONDS = 2.0
MAX_VMAF_DELTA = 0.5
# Each chunk must spend the rung's budget, not overshoot it from a cold rate control.
MAX_BITS_DELTA = 0.05


@dataclass(frozen=True)
class Pair:
    rung: str
    chunked: Path  # the pipeline's packaged track
    whole: Path  # the same rung encoded in one piece
    chunked_score: quality.VmafScore
    whole_score: quality.VmafScore

    @property
    def delta(self) -> float:
        return self.chunked_score.mean - self.whole_score.mean

    def __str__(self) -> str:
        c, w = self.chunked_score, self.whole_score
        return (
            f"{self.rung}: chunked {c.mean:.2f} (min {c.minimum:.2f}), "
            f"whole {w.mean:.2f} (min {w.minimum:.2f}), delta {self.delta:+.2f}"
        )


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("seams") / "data"
    # The product's own encoder preset: seams are judged as users would get them.
    overrides = {
        "chunk_seconds": CHUNK_SECONDS,
        "x264_preset": Settings.model_fields["x264_preset"].default,
    }
    return Settings(data_dir=data, **{**PLATFORM_SETTINGS, **overrides})


@pytest.fixture(scope="module")
def motion_master(masters: Path) -> Path:
    spec = SampleSpec(
        pattern="mandelbrot",
        width=640,
        height=360,
        fps=Fraction(FPS),
        seconds=MASTER_SECONDS,
        gop=FPS,  # a keyframe every second, so the split can cut every 2 s
    )
    return make_sample(masters / "mandelbrot.mp4", spec)


@pytest.fixture(scope="module")
def chunked_title(settings: Settings, motion_master: Path, scratch: Path) -> Title:
    return succeeded(ingest_title(Platform(settings), motion_master, scratch))


@pytest.fixture(scope="module")
def pairs(
    settings: Settings,
    chunked_title: Title,
    motion_master: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> list[Pair]:
    work = tmp_path_factory.mktemp("one-piece")
    video = probe(motion_master).video
    ladder = chunked_title.platform.ladder()
    rungs = plan_ladder(ladder, video)
    (whole_chunk,) = encode.split_video(
        motion_master, work / "chunks", video, 10 * MASTER_SECONDS, ladder.segment_seconds
    )
    wholes = [work / f"{r.name}.mp4" for r in rungs]
    encode.encode_two_pass(
        whole_chunk,
        video=video,
        rungs=rungs,
        ladder=ladder,
        outputs=wholes,
        threads=settings.encoder_threads,
    )
    chunked = [chunked_title.track(f"video/{r.name}/index.m3u8") for r in rungs]
    scores = quality.vmaf_many([*chunked, *wholes], motion_master, video, subsample=1)
    n = len(rungs)
    return [
        Pair(r.name, chunked[i], wholes[i], scores[i], scores[n + i]) for i, r in enumerate(rungs)
    ]


def test_the_pipeline_encoded_several_chunks(chunked_title: Title) -> None:
    tasks = chunked_title.platform.jobs.tasks(chunked_title.job_id)
    encodes = sorted(t.name for t in tasks if t.name.startswith("encode-"))
    assert encodes == [f"encode-{i:04d}" for i in range(4)]


def test_chunked_rendition_scores_like_a_one_piece_encode(pairs: list[Pair]) -> None:
    report = "\n".join(str(p) for p in pairs)
    assert [p.rung for p in pairs] == ["234p-145k", "360p-365k"], report
    for p in pairs:
        assert p.chunked_score.frames == p.whole_score.frames == MASTER_SECONDS * FPS, report
        assert abs(p.delta) <= MAX_VMAF_DELTA, report


def test_chunked_rendition_has_the_same_frames_and_keyframes(pairs: list[Pair]) -> None:
    for p in pairs:
        chunked, whole = _frames(p.chunked), _frames(p.whole)
        assert len(chunked) == len(whole) == MASTER_SECONDS * FPS, p.rung
        assert [t for t, key in chunked if key] == [t for t, key in whole if key], p.rung


def test_chunked_rendition_spends_the_same_bits_as_a_one_piece_encode(pairs: list[Pair]) -> None:
    sizes = {p.rung: (_video_bytes(p.chunked), _video_bytes(p.whole)) for p in pairs}
    for chunked, whole in sizes.values():
        assert chunked == pytest.approx(whole, rel=MAX_BITS_DELTA), sizes


def _video_bytes(path: Path) -> int:
    report = ffprobe(path, "-select_streams", "v:0", "-show_entries", "packet=size")
    return sum(int(p["size"]) for p in report["packets"])


def _frames(path: Path) -> list[tuple[float, bool]]:
    """(presentation time, is keyframe) of every video packet, in presentation order."""
    report = ffprobe(path, "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags")
    return sorted((round(float(p["pts_time"]), 3), "K" in p["flags"]) for p in report["packets"])


def test_scoring_reports_how_far_it_has_got(chunked_title: Title, motion_master: Path) -> None:
    seen: list[float] = []
    rendition = chunked_title.track("video/234p-145k/index.m3u8")
    video = probe(motion_master).video
    (score,) = quality.vmaf_many(
        [rendition], motion_master, video, subsample=4, on_progress=seen.append
    )
    assert score.frames == MASTER_SECONDS * FPS // 4
    assert seen, "no progress heard"
    assert seen == sorted(seen)
    assert 0.9 <= seen[-1] <= 1.0
