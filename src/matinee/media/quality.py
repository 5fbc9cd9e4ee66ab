"""Quality control: VMAF (model vmaf_v0.6.1, the libvmaf in the imageio-ffmpeg build) of each
rendition against the normalized master, both scaled to the reference size."""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from matinee.media import filters, tools
from matinee.media.errors import QualityError, ToolError
from matinee.media.ladder import fit_box
from matinee.media.probe import VideoInfo

# vmaf_v0.6.1 was trained for 1080p viewing; larger masters are scored at 1080p.
REFERENCE_BOX = (1920, 1080)


@dataclass(frozen=True)
class VmafScore:
    mean: float
    minimum: float
    harmonic_mean: float
    frames: int


def reference_size(video: VideoInfo) -> tuple[int, int]:
    w, h = video.display_width, video.display_height
    if w <= REFERENCE_BOX[0] and h <= REFERENCE_BOX[1]:
        return w - w % 2, h - h % 2
    return fit_box(*REFERENCE_BOX, Fraction(w, h))


def vmaf(
    rendition: Path, master: Path, video: VideoInfo, *, subsample: int = 1, threads: int = 2
) -> VmafScore:
    """Score ``rendition`` against ``master``; raises QualityError in plain words on failure."""
    w, h = reference_size(video)
    rate = filters.fps(video.frame_rate)
    dist = ",".join([rate, *filters.scale(w, h), "setpts=PTS-STARTPTS"])
    ref = ",".join([*filters.normalize(video), rate, *filters.scale(w, h), "setpts=PTS-STARTPTS"])
    log_path = rendition.with_suffix(".vmaf.json")
    options = f"model=version=vmaf_v0.6.1:n_subsample={subsample}:n_threads={threads}"
    options += f":log_fmt=json:log_path={log_path}"
    graph = f"[0:v:0]{dist}[dist];[1:{video.index}]{ref}[ref];[dist][ref]libvmaf={options}"
    args: list[str | Path] = [tools.binaries().ffmpeg, "-hide_banner", "-nostdin", "-v", "error"]
    args += ["-i", rendition, "-noautorotate", "-i", master, "-lavfi", graph, "-f", "null", "-"]
    try:
        tools.run(args, what=f"score VMAF of {rendition.name}")
        data = json.loads(log_path.read_text())
        pooled = data["pooled_metrics"]["vmaf"]
        score = VmafScore(
            mean=float(pooled["mean"]),
            minimum=float(pooled["min"]),
            harmonic_mean=float(pooled["harmonic_mean"]),
            frames=len(data.get("frames", [])),
        )
    except (ToolError, OSError, KeyError, ValueError) as exc:
        raise QualityError(f"could not compute VMAF for {rendition.name}: {exc}") from exc
    finally:
        log_path.unlink(missing_ok=True)
    return score
