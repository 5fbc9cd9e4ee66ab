"""Where the master is cut into chunks, and where each chunk forces its keyframes (no ffmpeg)."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest

from matinee.media.encode import chunk_targets, first_pass_sources, keyframe_times
from matinee.media.ladder import PlannedRung, Rung

SEGMENTS = [1.0, 1.6, 2.0, 2.002, 4.0, 6.0]
CHUNKS = [1.0, 2.0, 5.0, 8.0, 12.0, 30.0]
DURATIONS = [0.5, 1.0, 3.0, 7.0, 8.0, 10.0, 30.0, 61.3, 3600.0]


def _is_multiple(t: float, step: float) -> bool:
    return math.isclose(t / step, round(t / step), abs_tol=1e-9)


def _step(chunk_seconds: float, segment_seconds: float) -> float:
    """A chunk is a whole number of segments, at least one."""
    return max(1, round(chunk_seconds / segment_seconds)) * segment_seconds


# --- chunk_targets ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("duration", "chunk", "segment", "expected"),
    [
        (8.0, 2.0, 2.0, [2.0, 4.0, 6.0]),
        (36.0, 12.0, 4.0, [12.0, 24.0]),
        # 30 s in 12 s chunks: a 6 s last chunk would be a sliver, so the last one runs 18 s.
        (30.0, 12.0, 4.0, [12.0]),
        (7.0, 2.0, 2.0, [2.0, 4.0]),
        # 5 s chunks of 2 s segments round to two segments (4 s).
        (10.0, 5.0, 2.0, [4.0]),
        # A chunk is never shorter than one segment.
        (10.0, 1.0, 4.0, [4.0]),
        # Shorter than one and a half chunks: a single chunk.
        (5.0, 12.0, 4.0, []),
        (17.9, 12.0, 4.0, []),
    ],
)
def test_chunk_targets(
    duration: float, chunk: float, segment: float, expected: list[float]
) -> None:
    assert chunk_targets(duration, chunk, segment) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("duration", "chunk", "segment"), list(itertools.product(DURATIONS, CHUNKS, SEGMENTS))
)
def test_cuts_land_on_segment_boundaries_with_no_sliver_at_the_end(
    duration: float, chunk: float, segment: float
) -> None:
    cuts = chunk_targets(duration, chunk, segment)
    step = _step(chunk, segment)
    edges = [0.0, *cuts, duration]
    for cut in cuts:
        assert _is_multiple(cut, segment), (cut, segment)
    # Every chunk but the last is exactly one step long.
    for a, b in itertools.pairwise(edges[:-1]):
        assert b - a == pytest.approx(step)
    # The last runs to the end: more than half a step (no sliver) and at most one and a half.
    last = edges[-1] - edges[-2]
    if cuts:
        assert step / 2 < last <= 1.5 * step + 1e-9
    else:
        assert duration <= 1.5 * step + 1e-9


# --- keyframe_times --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "segment", "expected"),
    [
        (0.0, 8.0, 2.0, [0.0, 2.0, 4.0, 6.0]),
        # A chunk of exactly one segment: only its first frame.
        (2.0, 4.0, 2.0, [0.0]),
        (4.0, 12.0, 4.0, [0.0, 4.0]),
        # The first chunk ran one frame past the cut target (the master's keyframe came late):
        # the title's boundary at 4 s is still inside it.
        (0.0, 4.04, 2.0, [0.0, 2.0, 4.0]),
        # ... and the next chunk starts mid-segment: its next boundary (6 s) is 1.96 s in.
        (4.04, 8.0, 2.0, [0.0, 1.96]),
        # A start a hair before a boundary (rounded CSV times) does not force two keyframes
        # a frame apart; the chunk's first frame is that boundary.
        (3.9996, 8.0, 2.0, [0.0, 2.0004]),
        # An end a hair after a boundary does not force a one-frame GOP at the very end.
        (0.0, 6.0004, 2.0, [0.0, 2.0, 4.0]),
        (0.0, 1.5, 2.0, [0.0]),
    ],
)
def test_keyframe_times(start: float, end: float, segment: float, expected: list[float]) -> None:
    assert keyframe_times(start, end, segment) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("duration", "chunk", "segment"),
    [(8.0, 2.0, 2.0), (30.0, 12.0, 4.0), (61.3, 8.0, 4.0), (20.0, 6.0, 2.002), (9.0, 2.0, 1.6)],
)
def test_chunks_together_force_every_segment_boundary_exactly_once(
    duration: float, chunk: float, segment: float
) -> None:
    edges = [0.0, *chunk_targets(duration, chunk, segment), duration]
    forced: list[float] = []
    for start, end in itertools.pairwise(edges):
        times = keyframe_times(start, end, segment)
        assert times[0] == 0.0
        assert all(0 <= t < end - start for t in times)
        assert times == sorted(set(times))
        forced += [start + t for t in times]
    boundaries = [k * segment for k in range(math.ceil(duration / segment - 1e-9))]
    assert forced == pytest.approx(boundaries)


# --- first_pass_sources ----------------------------------------------------------------------


def _planned(height: int, kbps: int, fps: Fraction = Fraction(30)) -> PlannedRung:
    width = height * 16 // 9 // 2 * 2
    return PlannedRung(Rung(width=width, height=height, bitrate_kbps=kbps), width, height, fps)


def test_default_ladder_measures_each_picture_once_at_its_lowest_bitrate() -> None:
    rungs = [_planned(h, k) for h, k in
             [(234, 145), (360, 365), (432, 730), (432, 1100), (540, 2000), (720, 3000),
              (720, 4500), (1080, 6000), (1080, 7800)]]  # fmt: skip
    assert first_pass_sources(rungs) == [0, 1, 2, 2, 4, 5, 5, 7, 7]


def test_siblings_share_whatever_their_order_and_only_at_the_same_frame_rate() -> None:
    rungs = [
        _planned(720, 4500),
        _planned(720, 3000),
        _planned(720, 2000, Fraction(15)),  # same size, another frame rate: its own pass
        _planned(1080, 6000),
    ]
    assert first_pass_sources(rungs) == [1, 1, 2, 3]
