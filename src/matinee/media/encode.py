"""Chunked encoding: split a master at keyframes, encode each chunk to every rung with one decode,
then stitch each rung's pieces back together.

IDR frames are forced at every segment boundary of the *title's* timeline, in every rung, so the
packager can cut every rendition at the same instants (closed GOPs, aligned switching points).
"""

from __future__ import annotations

import csv
import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from matinee.media import filters, tools
from matinee.media.ladder import Ladder, PlannedRung
from matinee.media.probe import VideoInfo

Progress = Callable[[float], None]

_BOUNDARY_EPSILON = 1e-3


@dataclass(frozen=True)
class ChunkFile:
    index: int
    start: float  # seconds on the master's timeline
    end: float
    path: Path


def chunk_targets(duration: float, chunk_seconds: float, segment_seconds: float) -> list[float]:
    """Where to cut: multiples of a whole number of segments, no sliver of a chunk at the end."""
    step = max(1, round(chunk_seconds / segment_seconds)) * segment_seconds
    cuts: list[float] = []
    t = step
    while t < duration - step / 2:
        cuts.append(t)
        t += step
    return cuts


def split_video(
    master: Path, out_dir: Path, video: VideoInfo, chunk_seconds: float, segment_seconds: float
) -> list[ChunkFile]:
    """Stream-copy the video into chunks that start on the master's keyframes.

    Copying (no decode) makes the chunks an exact partition of the master's frames. Each cut
    lands on the first keyframe at or after its target time.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    listing = out_dir / "chunks.csv"
    cuts = chunk_targets(video.duration, chunk_seconds, segment_seconds)
    args: list[str | Path] = [tools.binaries().ffmpeg, "-hide_banner", "-nostdin", "-y"]
    args += ["-v", "error", "-noautorotate", "-i", master, "-map", f"0:{video.index}"]
    args += ["-c", "copy", "-f", "segment", "-segment_format", "mov"]
    # Keep the master's presentation timeline. With B-frames the first decode timestamp is
    # negative, and ffmpeg's default shift to make it non-negative would move every cut time
    # (and the first chunk's clock) late by the reorder delay, so the IDRs forced at segment
    # boundaries would land a few frames early in every chunk after the first.
    args += ["-avoid_negative_ts", "disabled"]
    if cuts:
        args += ["-segment_times", ",".join(f"{c:.3f}" for c in cuts)]
    else:
        args += ["-segment_time", str(10 * max(video.duration, 1.0))]  # one chunk
    # Each chunk's clock starts at zero; its place on the title's timeline comes from the CSV.
    args += ["-reset_timestamps", "1", "-segment_list", listing, "-segment_list_type", "csv"]
    args.append(out_dir / "chunk_%04d.mov")
    tools.run(args, what="split the master into chunks")
    chunks: list[ChunkFile] = []
    with listing.open(newline="") as fh:
        for i, row in enumerate(csv.reader(fh)):
            name, start, end = row[0], float(row[1]), float(row[2])
            chunks.append(ChunkFile(i, start, end, out_dir / name))
    if chunks:  # the last chunk runs to the end of the title, whatever the CSV rounded to
        last = chunks[-1]
        chunks[-1] = ChunkFile(last.index, last.start, max(last.end, video.duration), last.path)
    return chunks


def keyframe_times(start: float, end: float, segment_seconds: float) -> list[float]:
    """Segment boundaries inside [start, end), relative to the chunk's own clock."""
    first = math.ceil((start + _BOUNDARY_EPSILON) / segment_seconds)
    times = [0.0]
    k = first
    while k * segment_seconds < end - _BOUNDARY_EPSILON:
        times.append(k * segment_seconds - start)
        k += 1
    return times


def x264_args(ladder: Ladder, planned: PlannedRung, kbps: int | None = None) -> list[str]:
    """x264 settings of a rung; ``kbps`` is this chunk's share of the rung's bits (default: the
    rung's target), never above the rung's peak."""
    rung = planned.rung
    target = rung.bitrate_kbps
    peak = round(target * rung.maxrate_factor)
    gop = max(1, round(float(planned.fps) * ladder.segment_seconds))
    return [
        "-c:v", "libx264", "-profile:v", ladder.profile, "-preset", ladder.preset,
        # Constrained VBR: average target, capped peak over a bounded VBV buffer.
        "-b:v", f"{min(kbps or target, peak)}k",
        "-maxrate", f"{peak}k",
        "-bufsize", f"{round(target * rung.bufsize_factor)}k",
        # Hold the average to the target more tightly than x264's default (1.0): a chunk's
        # second pass has only its few seconds to correct an early error, and at low rates
        # missed by +2 to +5 % (234p 145k on 8 s chunks; a one-piece encode +0.8 %). At 0.25
        # the same chunks land within +1.3 to +1.7 %.
        "-x264-params", "ratetol=0.25",
        # Keyframes only where we force them (segment boundaries): a keyint of twice the
        # segment as a safety net, no scene-cut keyframes, and forced frames are IDRs.
        "-g", str(2 * gop), "-keyint_min", str(gop), "-sc_threshold", "0", "-forced-idr", "1",
        # Closed GOPs, so each segment decodes on its own.
        "-flags", "+cgop",
        "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709",
    ]  # fmt: skip


def first_pass_sources(rungs: Sequence[PlannedRung]) -> list[int]:
    """For each rung, the index of the rung whose first pass it uses: the lowest-bitrate rung
    of the same picture (size and frame rate).

    x264's first-pass statistics describe the picture (each frame's complexity, as bits at the
    quantizer it took them at, and the macroblock tree), which the second pass rescales to its
    own target; a rung's sibling at another bitrate measures nearly the same thing. Measured on
    the Mandelbrot master, second passes from a sibling's statistics against their own:
    1080p 7800k VMAF +0.17 and 1.2 % more bits, 720p 4500k +0.07 and 1.1 %, 432p 1100k +0.11
    and 1.4 %. On the default ladder this drops three of nine first passes, 44 % of the pixels.
    """
    lowest: dict[tuple[int, int, Fraction], int] = {}
    for i, r in enumerate(rungs):
        key = (r.width, r.height, r.fps)
        best = lowest.get(key)
        if best is None or r.bitrate_kbps < rungs[best].bitrate_kbps:
            lowest[key] = i
    return [lowest[(r.width, r.height, r.fps)] for r in rungs]


def stats_file(prefix: Path, rung_index: int) -> Path:
    """Where x264's first pass leaves a rung's statistics (ffmpeg appends the output index);
    the macroblock-tree data sits beside it with ``.mbtree`` appended."""
    return prefix.with_name(f"{prefix.name}-{rung_index}.log")


def _pass_args(
    chunk: ChunkFile,
    *,
    video: VideoInfo,
    rungs: Sequence[PlannedRung],
    ladder: Ladder,
    stats: Sequence[Path],
    threads: int,
) -> tuple[list[str | Path], list[list[str | Path]]]:
    """The input and filter part of a pass, and each rung's encoder part: one decode, split to
    every rung, IDRs forced at the title's segment boundaries inside this chunk."""
    base = [*filters.normalize(video), filters.fps(video.frame_rate)]
    graph = f"[0:v:0]{','.join(base)},split={len(rungs)}" + "".join(
        f"[s{i}]" for i in range(len(rungs))
    )
    for i, pr in enumerate(rungs):
        branch = filters.scale(pr.width, pr.height)
        if pr.fps != video.frame_rate:
            branch.insert(0, filters.fps(pr.fps))
        graph += f";[s{i}]{','.join(branch)}[v{i}]"
    forced = ",".join(
        f"{t:.6f}" for t in keyframe_times(chunk.start, chunk.end, ladder.segment_seconds)
    )
    head: list[str | Path] = [tools.binaries().ffmpeg, "-hide_banner", "-nostdin", "-y"]
    head += ["-v", "error", "-nostats", "-progress", "pipe:2", "-noautorotate"]
    head += ["-i", chunk.path, "-filter_complex", graph]
    outs: list[list[str | Path]] = []
    for i in range(len(rungs)):
        out: list[str | Path] = ["-map", f"[v{i}]", "-force_key_frames", forced]
        if threads:
            out += ["-threads", str(threads)]
        out += ["-passlogfile", stats[i], "-fps_mode", "passthrough", "-an"]
        outs.append(out)
    return head, outs


def analyze_chunk(
    chunk: ChunkFile,
    *,
    video: VideoInfo,
    rungs: Sequence[PlannedRung],
    ladder: Ladder,
    stats: Sequence[Path],
    threads: int = 0,
    on_progress: Progress | None = None,
) -> None:
    """First pass: decode the chunk once and let x264 measure it for every rung.

    Two passes, because x264's one-pass rate control starts cold in every chunk and misses the
    target in its own way each time (on 2 s chunks, 10 % over at ``ultrafast``, 25 % under at
    ``medium``, with a visible quality step at each seam). Statistics go to
    ``stats_file(stats[i], i)``; :mod:`matinee.media.ratecontrol` reads them to share the
    title's bits among chunks.
    """
    head, outs = _pass_args(
        chunk, video=video, rungs=rungs, ladder=ladder, stats=stats, threads=threads
    )
    args = list(head)
    for i, pr in enumerate(rungs):
        stats[i].parent.mkdir(parents=True, exist_ok=True)
        args += [*outs[i], *x264_args(ladder, pr), "-pass", "1", "-f", "null", "-"]
    tools.run(
        args,
        what=f"analyze chunk {chunk.index}",
        on_stderr_line=_progress_parser(chunk, on_progress) if on_progress else None,
    )


def encode_chunk(
    chunk: ChunkFile,
    *,
    video: VideoInfo,
    rungs: Sequence[PlannedRung],
    ladder: Ladder,
    outputs: Sequence[Path],
    stats: Sequence[Path],
    bitrates: Sequence[int] | None = None,
    threads: int = 0,
    on_progress: Progress | None = None,
) -> None:
    """Second pass: decode the chunk once and encode every rung (``outputs[i]`` is
    ``rungs[i]``'s file) at ``bitrates[i]``, this chunk's share of the rung's bits.

    ``threads`` caps each x264 encoder's threads (0 lets x264 choose). Chunks already run in
    parallel, so few threads per encoder avoid frame-threading overhead.
    """
    head, outs = _pass_args(
        chunk, video=video, rungs=rungs, ladder=ladder, stats=stats, threads=threads
    )
    args = list(head)
    for i, (pr, out) in enumerate(zip(rungs, outputs, strict=True)):
        out.parent.mkdir(parents=True, exist_ok=True)
        kbps = bitrates[i] if bitrates else None
        args += [*outs[i], *x264_args(ladder, pr, kbps), "-pass", "2", "-f", "mp4", out]
    tools.run(
        args,
        what=f"encode chunk {chunk.index}",
        on_stderr_line=_progress_parser(chunk, on_progress) if on_progress else None,
    )


def encode_two_pass(
    chunk: ChunkFile,
    *,
    video: VideoInfo,
    rungs: Sequence[PlannedRung],
    ladder: Ladder,
    outputs: Sequence[Path],
    threads: int = 0,
) -> None:
    """Both passes of one chunk at the rungs' own targets (a one-piece encode of a title)."""
    with tempfile.TemporaryDirectory(prefix=".x264-stats-") as tmp:
        stats = [Path(tmp) / f"rung{i}" for i in range(len(rungs))]
        analyze_chunk(chunk, video=video, rungs=rungs, ladder=ladder, stats=stats, threads=threads)
        encode_chunk(
            chunk,
            video=video,
            rungs=rungs,
            ladder=ladder,
            outputs=outputs,
            stats=stats,
            threads=threads,
        )


def encode_audio(master: Path, stream_index: int, ladder: Ladder, out: Path) -> None:
    """AAC-LC at the ladder's bitrate and channel count, 48 kHz, one track per language."""
    out.parent.mkdir(parents=True, exist_ok=True)
    args: list[str | Path] = [tools.binaries().ffmpeg, "-hide_banner", "-nostdin", "-y"]
    args += ["-v", "error", "-i", master, "-map", f"0:{stream_index}", "-vn", "-sn", "-dn"]
    args += ["-c:a", "aac", "-profile:a", "aac_low", "-b:a", f"{ladder.audio_bitrate_kbps}k"]
    args += ["-ac", str(ladder.audio_channels), "-ar", "48000", "-f", "mp4", out]
    tools.run(args, what=f"encode audio stream {stream_index}")


def stitch(parts: Sequence[Path], out: Path) -> None:
    """Join one rung's encoded chunks, in order, without re-encoding."""
    out.parent.mkdir(parents=True, exist_ok=True)
    listing = out.with_suffix(".concat.txt")
    listing.write_text("".join(f"file '{p.resolve()}'\n" for p in parts))
    args: list[str | Path] = [tools.binaries().ffmpeg, "-hide_banner", "-nostdin", "-y"]
    args += ["-v", "error", "-f", "concat", "-safe", "0", "-i", listing]
    args += ["-map", "0:v:0", "-c", "copy", "-movflags", "+faststart", out]
    tools.run(args, what=f"stitch {out.stem}")
    listing.unlink()


def _progress_parser(chunk: ChunkFile, on_progress: Progress) -> Callable[[str], None]:
    return tools.progress_parser(chunk.end - chunk.start, on_progress)
