"""Quality control: VMAF (model vmaf_v0.6.1, the libvmaf in the imageio-ffmpeg build) of each
rendition against the normalized master, both scaled to the reference size.

Every rendition of a title is scored in one ffmpeg run: the master is decoded and normalized
once and shared by all comparisons. With ``subsample`` N, only every Nth frame (of both sides,
so they stay paired) is scaled and scored.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
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


def _pick(subsample: int) -> list[str]:
    return [] if subsample <= 1 else [f"select='not(mod(n\\,{subsample}))'"]


def vmaf_many(
    renditions: Sequence[Path],
    master: Path,
    video: VideoInfo,
    *,
    subsample: int = 1,
    threads: int = 2,
    on_progress: Callable[[float], None] | None = None,
) -> list[VmafScore]:
    """Score every rendition against ``master`` in one pass; QualityError in plain words.
    ``on_progress`` hears the share of the title scored so far."""
    w, h = reference_size(video)
    rate = filters.fps(video.frame_rate)
    common = [*_pick(subsample), *filters.scale(w, h), "setpts=PTS-STARTPTS"]
    n = len(renditions)
    ref_chain = ",".join([*filters.normalize(video), rate, *common])
    graph = [f"[{n}:{video.index}]{ref_chain},split={n}" + "".join(f"[r{i}]" for i in range(n))]
    with tempfile.TemporaryDirectory(prefix="vmaf-") as tmp:
        logs = [Path(tmp) / f"{i}.json" for i in range(n)]
        for i, log in enumerate(logs):
            options = f"model=version=vmaf_v0.6.1:n_threads={threads}:log_fmt=json:log_path={log}"
            graph.append(f"[{i}:v:0]{','.join([rate, *common])}[d{i}]")
            graph.append(f"[d{i}][r{i}]libvmaf={options}")
        args: list[str | Path] = [tools.binaries().ffmpeg, "-hide_banner", "-nostdin"]
        args += ["-v", "error", "-nostats", "-progress", "pipe:2"]
        for r in renditions:
            args += ["-i", r]
        args += ["-noautorotate", "-i", master, "-filter_complex", ";".join(graph)]
        args += ["-f", "null", "-"]
        names = ", ".join(r.name for r in renditions)
        try:
            parse = tools.progress_parser(video.duration, on_progress) if on_progress else None
            tools.run(args, what=f"score VMAF of {names}", on_stderr_line=parse)
            return [_read(log) for log in logs]
        except (ToolError, OSError, KeyError, ValueError) as exc:
            raise QualityError(f"could not compute VMAF for {names}: {exc}") from exc


def vmaf(
    rendition: Path, master: Path, video: VideoInfo, *, subsample: int = 1, threads: int = 2
) -> VmafScore:
    """Score one rendition against ``master``."""
    return vmaf_many([rendition], master, video, subsample=subsample, threads=threads)[0]


def _read(log: Path) -> VmafScore:
    data = json.loads(log.read_text())
    pooled = data["pooled_metrics"]["vmaf"]
    return VmafScore(
        mean=float(pooled["mean"]),
        minimum=float(pooled["min"]),
        harmonic_mean=float(pooled["harmonic_mean"]),
        frames=len(data.get("frames", [])),
    )
