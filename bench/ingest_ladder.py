"""Benchmark: matinee's full ladder ingest against one hand-written ffmpeg command.

Both make the same rungs with the same x264 settings from the same 1080p master with audio, in
the same run, on the same machine. Reported: wall-time ratios (to the title's publication, and
to the end of its quality scoring, which follows publication), peak memory, VMAF per rung.

    .venv/bin/python bench/ingest_ladder.py [--seconds 30] [--preset medium]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import psutil

from matinee.media import filters, quality, tools
from matinee.media.encode import x264_args
from matinee.media.ladder import DEFAULT_LADDER, Ladder, plan_ladder
from matinee.media.probe import probe
from matinee.media.samples import AudioSpec, SampleSpec, make_sample
from matinee.platform import Platform
from matinee.settings import Settings

sys.path.insert(0, str(Path(__file__).parent))
from _common import cpu_model

OUT = Path(__file__).parent / "out"
TOOLS = ("ffmpeg", "ffprobe", "packager")


def _pss(p: psutil.Process) -> int:
    """The process's proportional set size: its private pages plus its share of pages shared
    with others (forked workers share the parent's), so that a sum over processes counts each
    page once. RSS would count a shared page once per process that maps it."""
    try:
        return int(p.memory_full_info().pss)
    except (psutil.AccessDenied, AttributeError):
        return int(p.memory_info().rss)


@dataclass
class MemorySampler:
    """Samples memory (PSS) of this process tree: matinee's own processes, and the tools
    separately."""

    own_peak: int = 0
    tools_peak: int = 0
    # (monotonic time, share of all cores busy since the previous sample), machine-wide.
    busy: list[tuple[float, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _sample(self) -> None:
        me = psutil.Process()
        psutil.cpu_percent()
        while not self._stop.wait(0.1):
            self.busy.append((time.monotonic(), psutil.cpu_percent() / 100))
            own = tools_rss = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    rss = _pss(p)
                    is_tool = any(p.name().startswith(t) for t in TOOLS)
                except psutil.Error:
                    continue
                if is_tool:
                    tools_rss += rss
                else:
                    own += rss
            self.own_peak = max(self.own_peak, own)
            self.tools_peak = max(self.tools_peak, tools_rss)

    def busy_between(self, start: float, end: float) -> float:
        """Mean share of the machine's cores busy between two monotonic instants."""
        picked = [b for t, b in self.busy if start < t <= end]
        return sum(picked) / len(picked) if picked else 0.0

    def run(self, work: Callable[[], None]) -> float:
        thread = threading.Thread(target=self._sample, daemon=True)
        thread.start()
        start = time.perf_counter()
        try:
            work()
        finally:
            elapsed = time.perf_counter() - start
            self._stop.set()
            thread.join()
        return elapsed


def make_source(seconds: float) -> Path:
    path = OUT / f"source-1080p-{seconds:g}s.mp4"
    if not path.exists():
        spec = SampleSpec(
            pattern="mandelbrot", width=1920, height=1080, fps=Fraction(30), seconds=seconds,
            audio=(AudioSpec("eng", 440),), gop=30,
        )  # fmt: skip
        make_sample(path, spec)
    return path


def reference(source: Path, ladder: Ladder, out_dir: Path, threads: int) -> list[Path]:
    """The hand-written command, run twice as x264 two-pass needs: decode once, split, scale
    and encode every rung (pass 1 to statistics only, pass 2 to files, plus audio).

    ``threads`` per x264 encoder as matinee's (its frame threads change what x264 makes: more
    threads restrict motion search to rows already encoded, which costs small pictures most).
    """
    video = probe(source).video
    rungs = plan_ladder(ladder, video)
    out_dir.mkdir(parents=True, exist_ok=True)
    # The same normalization matinee applies (for this master: declaring its unstated colours
    # BT.709, so scaling keeps its pixels instead of converting them from a BT.601 guess).
    graph = f"[0:v:0]{','.join([*filters.normalize(video), filters.fps(video.frame_rate)])}"
    graph += f",split={len(rungs)}"
    graph += "".join(f"[s{i}]" for i in range(len(rungs)))
    for i, r in enumerate(rungs):
        branch = filters.scale(r.width, r.height)
        if r.fps != video.frame_rate:
            branch.insert(0, filters.fps(r.fps))
        graph += f";[s{i}]{','.join(branch)}[v{i}]"
    outs = [out_dir / f"{r.name}.mp4" for r in rungs]
    for n in (1, 2):
        args: list[str | Path] = [tools.binaries().ffmpeg, "-hide_banner", "-nostdin", "-y"]
        args += ["-v", "error", "-i", source, "-filter_complex", graph]
        for i, (r, out) in enumerate(zip(rungs, outs, strict=True)):
            args += ["-map", f"[v{i}]", *x264_args(ladder, r)]
            args += ["-threads", str(threads)] if threads else []
            args += ["-force_key_frames", f"expr:gte(t,n_forced*{ladder.segment_seconds:g})"]
            args += ["-pass", str(n), "-passlogfile", out_dir / f"rung{i}"]
            args += ["-fps_mode", "passthrough", "-an"]
            args += ["-f", "null", "-"] if n == 1 else [out]
        if n == 2:
            args += ["-map", "0:a:0", "-c:a", "aac", "-b:a", f"{ladder.audio_bitrate_kbps}k"]
            args += ["-ac", "2", "-vn", out_dir / "audio.mp4"]
        tools.run(args, what=f"reference ladder encode, pass {n}")
    return outs


def stage_breakdown(
    platform: Platform, job_id: str, mem: MemorySampler, wall_minus_mono: float
) -> list[dict[str, Any]]:
    """Each stage's wall time (first task start to last task end), how busy the machine's cores
    were meanwhile, and each task's own time."""
    by_stage: dict[str, list[Any]] = {}
    for task in platform.jobs.tasks(job_id):
        if task.started_at and task.finished_at:
            by_stage.setdefault(task.stage, []).append(task)
    out = []
    for stage, tasks in by_stage.items():
        start = min(t.started_at for t in tasks).timestamp() - wall_minus_mono
        end = max(t.finished_at for t in tasks).timestamp() - wall_minus_mono
        out.append({
            "stage": stage, "seconds": round(end - start, 1),
            "busy": round(mem.busy_between(start, end), 3),
            "tasks": {
                t.name: round((t.finished_at - t.started_at).total_seconds(), 1) for t in tasks
            },
        })  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--vmaf-subsample", type=int, default=4)
    args = parser.parse_args()

    source = make_source(args.seconds)
    ladder = DEFAULT_LADDER.model_copy(update={"preset": args.preset})
    ref_dir = OUT / "reference"
    shutil.rmtree(ref_dir, ignore_errors=True)
    data = OUT / "matinee-data"
    shutil.rmtree(data, ignore_errors=True)

    settings = Settings(data_dir=data, x264_preset=args.preset, vmaf_subsample=args.vmaf_subsample)
    ref_mem = MemorySampler()
    outs: list[Path] = []
    ref_time = ref_mem.run(
        lambda: outs.extend(reference(source, ladder, ref_dir, settings.encoder_threads))
    )
    print(f"reference: {ref_time:.1f} s")

    platform = Platform(settings)
    mat_mem = MemorySampler()

    job_ids: list[str] = []
    submitted: list[float] = []
    # Wall clock against monotonic, to place the job's task timestamps on the CPU samples.
    wall_minus_mono = time.time() - time.monotonic()

    def ingest() -> None:
        submitted.append(time.time())
        job = platform.submit(source, "bench")
        job_ids.append(job.id)
        with platform.runner() as runner:
            state = runner.run(job.id)
        if state.value != "succeeded":
            raise SystemExit(f"matinee ingest failed: {platform.jobs.get(job.id).error}")

    mat_time = mat_mem.run(ingest)
    published = datetime.fromisoformat(platform.jobs.get(job_ids[0]).facts["published_at"])
    pub_time = published.timestamp() - submitted[0]
    print(f"matinee:   {pub_time:.1f} s to published, {mat_time:.1f} s to scored")
    stages = stage_breakdown(platform, job_ids[0], mat_mem, wall_minus_mono)
    for st in stages:
        print(f"  {st['stage']:<9} {st['seconds']:6.1f} s, cores busy {st['busy']:.0%}")

    video = probe(source).video
    asset = platform.assets.all()[0]
    rows = []
    for track, ref_out in zip((t for t in asset.tracks if t.kind == "video"), outs, strict=True):
        ref_score = quality.vmaf(ref_out, source, video, subsample=args.vmaf_subsample)
        rows.append({
            "rung": track.name, "matinee_vmaf": round(track.vmaf_mean or 0, 2),
            "reference_vmaf": round(ref_score.mean, 2),
            "delta": round((track.vmaf_mean or 0) - ref_score.mean, 2),
        })  # fmt: skip
    result = {
        "seconds": args.seconds,
        "preset": args.preset,
        "x264_threads_per_encoder": settings.encoder_threads,
        "cores": psutil.cpu_count(),
        "cpu_model": cpu_model(),
        "reference_s": round(ref_time, 1),
        "matinee_published_s": round(pub_time, 1),
        "published_ratio": round(pub_time / ref_time, 3),
        "matinee_scored_s": round(mat_time, 1),
        "scored_ratio": round(mat_time / ref_time, 3),
        "matinee_own_peak_mb": round(mat_mem.own_peak / 2**20),
        "matinee_tools_peak_mb": round(mat_mem.tools_peak / 2**20),
        "reference_ffmpeg_peak_mb": round(ref_mem.tools_peak / 2**20),
        "reference_cores_busy": round(ref_mem.busy_between(0, time.monotonic()), 3),
        "matinee_stages": stages,
        "rungs": rows,
    }
    (OUT / "ingest_ladder.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
