"""Thumbnails: a poster frame, and a trickplay sprite sheet with a WebVTT index for seek bars."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from matinee.media import tools

SPRITE_COLUMNS = 10
SPRITE_ROWS = 10
THUMB_WIDTH = 160
MAX_THUMBS = 1200


@dataclass(frozen=True)
class Trickplay:
    index: Path  # the WebVTT file
    sheets: list[Path]
    interval: float
    thumb_width: int
    thumb_height: int


def poster(source: Path, out: Path, duration: float) -> Path:
    """A representative frame from early in the title (ffmpeg's ``thumbnail`` filter picks the
    least-unusual frame of a short run, which avoids black and mid-fade frames)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    at = min(duration * 0.2, 10.0)
    args: list[str | Path] = [
        tools.binaries().ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-y",
        "-v",
        "error",
    ]
    args += ["-ss", f"{at:.3f}", "-i", source, "-vf", "thumbnail=25", "-frames:v", "1"]
    args += ["-q:v", "3", "-update", "1", out]
    tools.run(args, what="make the poster frame")
    return out


def _vtt_time(t: float) -> str:
    ms = round(t * 1000)
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def trickplay(
    source: Path,
    out_dir: Path,
    *,
    duration: float,
    width: int,
    height: int,
    interval: float = 2.0,
) -> Trickplay:
    """Sprite sheets of SPRITE_COLUMNS x SPRITE_ROWS thumbnails, one every ``interval`` seconds
    (widened for long titles so there are at most MAX_THUMBS), and ``thumbs.vtt`` indexing them
    with ``#xywh`` media fragments."""
    out_dir.mkdir(parents=True, exist_ok=True)
    interval = max(interval, duration / MAX_THUMBS)
    tw = THUMB_WIDTH
    th = max(2, 2 * round(tw * height / width / 2))
    count = max(1, math.ceil(duration / interval))
    per_sheet = SPRITE_COLUMNS * SPRITE_ROWS
    args: list[str | Path] = [
        tools.binaries().ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-y",
        "-v",
        "error",
    ]
    args += ["-i", source, "-an", "-vf"]
    args.append(f"fps=1/{interval:.6f},scale={tw}:{th},tile={SPRITE_COLUMNS}x{SPRITE_ROWS}")
    args += ["-q:v", "4", out_dir / "sprite_%04d.jpg"]
    tools.run(args, what="make trickplay sprites")
    sheets = sorted(out_dir.glob("sprite_*.jpg"))
    lines = ["WEBVTT", ""]
    for n in range(count):
        sheet = sheets[min(n // per_sheet, len(sheets) - 1)]
        col, row = (n % per_sheet) % SPRITE_COLUMNS, (n % per_sheet) // SPRITE_COLUMNS
        start, end = n * interval, min((n + 1) * interval, duration)
        lines += [
            f"{_vtt_time(start)} --> {_vtt_time(end)}",
            f"{sheet.name}#xywh={col * tw},{row * th},{tw},{th}",
            "",
        ]
    index = out_dir / "thumbs.vtt"
    index.write_text("\n".join(lines))
    return Trickplay(index, sheets, interval, tw, th)
