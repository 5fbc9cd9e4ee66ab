"""Benchmark: matinee's full ladder ingest against one hand-written ffmpeg command.

Both make the same rungs with the same x264 settings from the same 1080p master with audio, in
the same run, on the same machine. Reported: wall-time ratio, peak memory, VMAF per rung.

    .venv/bin/python bench/ingest_ladder.py [--seconds 30] [--preset medium]
"""

from __future__ import annotations

import argparse
import json
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import psutil

from matinee.media import filters, quality, tools
from matinee.media.encode import x264_args
from matinee.media.ladder import DEFAULT_LADDER, Ladder, plan_ladder
from matinee.media.probe import probe
from matinee.media.samples import AudioSpec, SampleSpec, make_sample
from matinee.platform import Platform
from matinee.settings import Settings

OUT = Path(__file__).parent / "out"
TOOLS = ("ffmpeg", "ffprobe", "packager")


@dataclass
class MemorySampler:
    """Samples RSS of this process tree: matinee's own processes, and the tools separately."""

    own_peak: int = 0
    tools_peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.1):
            own = tools_rss = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    rss = p.memory_info().rss
                    is_tool = any(p.name().startswith(t) for t in TOOLS)
                except psutil.Error:
                    continue
                if is_tool:
                    tools_rss += rss
                else:
                    own += rss
            self.own_peak = max(self.own_peak, own)
            self.tools_peak = max(self.tools_peak, tools_rss)

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


def reference(source: Path, ladder: Ladder, out_dir: Path) -> list[Path]:
    """The hand-written command, run twice as x264 two-pass needs: decode once, split, scale
    and encode every rung (pass 1 to statistics only, pass 2 to files, plus audio)."""
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
            args += ["-force_key_frames", f"expr:gte(t,n_forced*{ladder.segment_seconds:g})"]
            args += ["-pass", str(n), "-passlogfile", out_dir / f"rung{i}"]
            args += ["-fps_mode", "passthrough", "-an"]
            args += ["-f", "null", "-"] if n == 1 else [out]
        if n == 2:
            args += ["-map", "0:a:0", "-c:a", "aac", "-b:a", f"{ladder.audio_bitrate_kbps}k"]
            args += ["-ac", "2", "-vn", out_dir / "audio.mp4"]
        tools.run(args, what=f"reference ladder encode, pass {n}")
    return outs


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

    ref_mem = MemorySampler()
    outs: list[Path] = []
    ref_time = ref_mem.run(lambda: outs.extend(reference(source, ladder, ref_dir)))
    print(f"reference: {ref_time:.1f} s")

    settings = Settings(data_dir=data, x264_preset=args.preset, vmaf_subsample=args.vmaf_subsample)
    platform = Platform(settings)
    mat_mem = MemorySampler()

    def ingest() -> None:
        job = platform.submit(source, "bench")
        with platform.runner() as runner:
            state = runner.run(job.id)
        if state.value != "succeeded":
            raise SystemExit(f"matinee ingest failed: {platform.jobs.get(job.id).error}")

    mat_time = mat_mem.run(ingest)
    print(f"matinee:   {mat_time:.1f} s")

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
        "cores": psutil.cpu_count(),
        "reference_s": round(ref_time, 1),
        "matinee_s": round(mat_time, 1),
        "time_ratio": round(mat_time / ref_time, 3),
        "matinee_own_peak_mb": round(mat_mem.own_peak / 2**20),
        "matinee_tools_peak_mb": round(mat_mem.tools_peak / 2**20),
        "reference_ffmpeg_peak_mb": round(ref_mem.tools_peak / 2**20),
        "rungs": rows,
    }
    (OUT / "ingest_ladder.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
