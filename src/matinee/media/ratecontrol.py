"""Title-wide bit allocation for chunked two-pass encoding.

A one-piece two-pass encode gives each frame bits in proportion to its complexity raised to
x264's ``qcomp`` (0.6): hard scenes get more, easy ones less, across the whole title. Encoding
chunks independently loses that: each chunk would spend the rung's average whatever it holds.
So every chunk's first pass is read here, and each chunk's second pass gets the share of the
title's bits that a one-piece encode would have given it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

QCOMP = 0.6  # x264's default qcomp, which every rung uses
_FRAME = re.compile(r"\bq:(?P<q>[\d.]+).*\btex:(?P<tex>\d+) mv:(?P<mv>\d+) misc:(?P<misc>\d+)")


def _qscale(qp: float) -> float:
    return float(0.85 * 2.0 ** ((qp - 12.0) / 6.0))  # x264 qp -> qscale


def chunk_weight(stats: Path, qcomp: float = QCOMP) -> float:
    """Sum over a chunk's frames of complexity^qcomp, from x264's first-pass statistics.

    A frame's complexity is the bits it took times the quantizer scale it took them at; the
    second pass gives it bits in proportion to complexity^qcomp.
    """
    total = 0.0
    for line in stats.read_text().splitlines():
        m = _FRAME.search(line)
        if m:
            bits = int(m["tex"]) + int(m["mv"]) + int(m["misc"])
            total += (bits * _qscale(float(m["q"]))) ** qcomp
    return total


def allocate(target_kbps: int, weights: Sequence[float], durations: Sequence[float]) -> list[int]:
    """Each chunk's bitrate so the title averages ``target_kbps`` and every chunk gets bits in
    proportion to its weight, as a one-piece encode would give them."""
    total_time = sum(durations)
    total_weight = sum(weights)
    if total_weight <= 0 or total_time <= 0:
        return [target_kbps for _ in weights]
    budget = target_kbps * total_time  # kilobits for the whole title
    return [
        max(1, round(budget * w / total_weight / d)) if d > 0 else target_kbps
        for w, d in zip(weights, durations, strict=True)
    ]
