"""Task functions of the ingest pipeline, run in worker processes.

Each takes a JSON spec and returns a JSON result; inputs and outputs are object-store keys.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matinee.errors import MatineeError
from matinee.ingest.worker import WorkerContext, context
from matinee.jobs.queue import TaskOutcome
from matinee.media import encode, package, quality, ratecontrol, subtitles, thumbs
from matinee.media.errors import InvalidLadder, InvalidMaster
from matinee.media.ladder import Ladder, PlannedRung, plan_ladder
from matinee.media.probe import ProbeResult
from matinee.media.validate import probe_and_validate

log = logging.getLogger(__name__)

Spec = dict[str, Any]
TaskFn = Callable[[WorkerContext, Spec, int], dict[str, Any]]


def _probe(spec: Spec) -> ProbeResult:
    return ProbeResult.from_dict(spec["probe"])


def probe_task(ctx: WorkerContext, spec: Spec, task_id: int) -> dict[str, Any]:
    with ctx.scratch(spec["job_id"], "probe") as tmp:
        master = ctx.local(spec["master_key"], tmp)
        # Probe it under the name the user uploaded, so errors speak of their file.
        named = tmp / Path(spec.get("master_name") or master.name).name
        named.symlink_to(master.resolve())
        result = probe_and_validate(named)
    ladder = Ladder.parse(spec["ladder"])
    rungs = plan_ladder(ladder, result.video)
    return {
        "probe": result.to_dict(),
        "rungs": [r.to_dict() for r in rungs],
        "audio": [
            {"index": a.index, "language": a.language, "name": f"{a.language}-{n}"}
            for n, a in enumerate(result.audio)
        ],
    }


def split_task(ctx: WorkerContext, spec: Spec, task_id: int) -> dict[str, Any]:
    job = spec["job_id"]
    with ctx.scratch(job, "split") as tmp:
        chunks = encode.split_video(
            ctx.local(spec["master_key"], tmp),
            tmp / "chunks",
            _probe(spec).video,
            spec["chunk_seconds"],
            spec["segment_seconds"],
        )
        out = []
        for c in chunks:
            key = ctx.publish(c.path, f"work/{job}/chunks/{c.path.name}")
            out.append({"index": c.index, "start": c.start, "end": c.end, "key": key})
    return {"chunks": out}


def _stats_keys(job: str, rung: str, index: int) -> tuple[str, str]:
    base = f"work/{job}/stats/{rung}/{index:04d}.log"
    return base, base + ".mbtree"


def _chunk_inputs(
    ctx: WorkerContext, c: dict[str, Any], rungs: int, tmp: Path
) -> tuple[encode.ChunkFile, list[Path]]:
    """The chunk as a local file, and where each rung's x264 statistics live in scratch."""
    chunk = encode.ChunkFile(c["index"], c["start"], c["end"], ctx.local(c["key"], tmp))
    return chunk, [tmp / "stats" / f"rung{i}" for i in range(rungs)]


def analyze_chunk_task(ctx: WorkerContext, spec: Spec, task_id: int) -> dict[str, Any]:
    """First pass of a chunk: x264's statistics per picture (rungs of the same size and frame
    rate share one, see :func:`encode.first_pass_sources`), and the chunk's weight per rung."""
    job, c = spec["job_id"], spec["chunk"]
    rungs = [PlannedRung.from_dict(r) for r in spec["rungs"]]
    sources = encode.first_pass_sources(rungs)
    measured = [rungs[i] for i in sorted(set(sources))]
    with ctx.scratch(job, f"analyze-{c['index']}") as tmp:
        chunk, prefixes = _chunk_inputs(ctx, c, len(measured), tmp)
        encode.analyze_chunk(
            chunk,
            video=_probe(spec).video,
            rungs=measured,
            ladder=Ladder.parse(spec["ladder"]),
            stats=prefixes,
            threads=ctx.config.encoder_threads,
            on_progress=ctx.progress(task_id),
        )
        weights = {}
        for i, (r, prefix) in enumerate(zip(measured, prefixes, strict=True)):
            log = encode.stats_file(prefix, i)
            log_key, tree_key = _stats_keys(job, r.name, c["index"])
            ctx.publish(log, log_key)
            tree = log.with_name(log.name + ".mbtree")
            if tree.exists():  # fast presets turn the macroblock tree off
                ctx.publish(tree, tree_key)
            weights[r.name] = ratecontrol.chunk_weight(log)
    for r, source in zip(rungs, sources, strict=True):
        weights[r.name] = weights[rungs[source].name]
    return {"index": c["index"], "duration": c["end"] - c["start"], "weights": weights}


def encode_chunk_task(ctx: WorkerContext, spec: Spec, task_id: int) -> dict[str, Any]:
    """Second pass of a chunk, each rung at this chunk's share of the title's bits."""
    job, c = spec["job_id"], spec["chunk"]
    rungs = [PlannedRung.from_dict(r) for r in spec["rungs"]]
    sources = encode.first_pass_sources(rungs)
    with ctx.scratch(job, f"encode-{c['index']}") as tmp:
        chunk, prefixes = _chunk_inputs(ctx, c, len(rungs), tmp)
        for i, (source, prefix) in enumerate(zip(sources, prefixes, strict=True)):
            log = encode.stats_file(prefix, i)
            log.parent.mkdir(parents=True, exist_ok=True)
            log_key, tree_key = _stats_keys(job, rungs[source].name, c["index"])
            ctx.store.get_file(log_key, log)
            if ctx.store.exists(tree_key):
                ctx.store.get_file(tree_key, log.with_name(log.name + ".mbtree"))
        outs = [tmp / f"{r.name}.mp4" for r in rungs]
        encode.encode_chunk(
            chunk,
            video=_probe(spec).video,
            rungs=rungs,
            ladder=Ladder.parse(spec["ladder"]),
            outputs=outs,
            stats=prefixes,
            bitrates=[spec["bitrates"][r.name] for r in rungs],
            threads=ctx.config.encoder_threads,
            on_progress=ctx.progress(task_id),
        )
        keys = {
            r.name: ctx.publish(o, f"work/{job}/encoded/{r.name}/{c['index']:04d}.mp4")
            for r, o in zip(rungs, outs, strict=True)
        }
    return {"index": c["index"], "outputs": keys}


def encode_audio_task(ctx: WorkerContext, spec: Spec, task_id: int) -> dict[str, Any]:
    job, name = spec["job_id"], spec["name"]
    with ctx.scratch(job, f"audio-{name}") as tmp:
        out = tmp / f"{name}.mp4"
        ladder = Ladder.parse(spec["ladder"])
        encode.encode_audio(ctx.local(spec["master_key"], tmp), spec["stream_index"], ladder, out)
        return {"key": ctx.publish(out, f"work/{job}/audio/{name}.mp4")}


def subtitles_task(ctx: WorkerContext, spec: Spec, task_id: int) -> dict[str, Any]:
    job, name = spec["job_id"], spec["name"]
    with ctx.scratch(job, f"subs-{name}") as tmp:
        src = ctx.local(spec["key"], tmp)
        # ffmpeg picks the reader by suffix; the name (language-n) shows in error messages.
        named = tmp / "sidecar" / f"{name}{Path(spec['key']).suffix}"
        named.parent.mkdir()
        named.symlink_to(src.resolve())
        out = subtitles.to_webvtt(named, tmp / f"{name}.vtt")
        return {"key": ctx.publish(out, f"work/{job}/text/{name}.vtt")}


def stitch_task(ctx: WorkerContext, spec: Spec, task_id: int) -> dict[str, Any]:
    job, name = spec["job_id"], spec["rung"]
    with ctx.scratch(job, f"stitch-{name}") as tmp:
        parts = [ctx.local(k, tmp) for k in spec["parts"]]
        out = tmp / f"{name}.mp4"
        encode.stitch(parts, out)
        return {"key": ctx.publish(out, f"work/{job}/video/{name}.mp4")}


def package_task(ctx: WorkerContext, spec: Spec, task_id: int) -> dict[str, Any]:
    job, prefix = spec["job_id"], spec["prefix"]
    with ctx.scratch(job, "package") as tmp:
        inputs = [
            package.PackageInput(i["kind"], i["name"], ctx.local(i["key"], tmp), i.get("language"))
            for i in spec["inputs"]
        ]
        out = tmp / "out"
        tracks = package.package(inputs, out, spec["segment_seconds"])
        files = ctx.publish_tree(out, prefix)
    return {
        "hls": f"{prefix}/{package.HLS_MASTER}",
        "dash": f"{prefix}/{package.DASH_MPD}",
        "files": len(files),
        "tracks": [t.__dict__ for t in tracks],
    }


def thumbnails_task(ctx: WorkerContext, spec: Spec, task_id: int) -> dict[str, Any]:
    job, prefix = spec["job_id"], spec["prefix"]
    with ctx.scratch(job, "thumbnails") as tmp:
        thumbs.poster(
            ctx.local(spec["poster_source"], tmp), tmp / "out" / "poster.jpg", spec["duration"]
        )
        thumbs.trickplay(
            ctx.local(spec["trickplay_source"], tmp),
            tmp / "out" / "trickplay",
            duration=spec["duration"],
            width=spec["width"],
            height=spec["height"],
        )
        ctx.publish_tree(tmp / "out", prefix)
    return {"poster": f"{prefix}/poster.jpg", "trickplay": f"{prefix}/trickplay/thumbs.vtt"}


def vmaf_task(ctx: WorkerContext, spec: Spec, task_id: int) -> dict[str, Any]:
    """Score every rung in one pass over the master."""
    with ctx.scratch(spec["job_id"], "vmaf") as tmp:
        rungs = spec["rungs"]
        scores = quality.vmaf_many(
            [ctx.local(r["key"], tmp) for r in rungs],
            ctx.local(spec["master_key"], tmp),
            _probe(spec).video,
            subsample=ctx.config.vmaf_subsample,
            on_progress=ctx.progress(task_id),
        )
    return {
        r["name"]: {"mean": s.mean, "min": s.minimum, "harmonic_mean": s.harmonic_mean}
        for r, s in zip(rungs, scores, strict=True)
    }


TASKS: dict[str, TaskFn] = {
    "probe": probe_task,
    "split": split_task,
    "analyze_chunk": analyze_chunk_task,
    "encode_chunk": encode_chunk_task,
    "encode_audio": encode_audio_task,
    "subtitles": subtitles_task,
    "stitch": stitch_task,
    "package": package_task,
    "thumbnails": thumbnails_task,
    "vmaf": vmaf_task,
}

# Bad input will not get better on a retry.
_PERMANENT = (InvalidMaster, InvalidLadder)


def execute(fn: str, spec: Spec, task_id: int) -> TaskOutcome:
    """Queue entry point: run one task and report its result or its error in plain words."""
    try:
        return TaskOutcome(result=TASKS[fn](context(), spec, task_id))
    except _PERMANENT as exc:
        return TaskOutcome(error=str(exc), permanent=True)
    except MatineeError as exc:
        return TaskOutcome(error=str(exc))
    except Exception as exc:  # a bug or an OS error: report it; the runner decides on retries
        log.exception("task %s (%s) crashed", task_id, fn)
        return TaskOutcome(error=f"internal error in {fn}: {type(exc).__name__}: {exc}")
