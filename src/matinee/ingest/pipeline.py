"""The ingest pipeline's stages, planned in the runner from the results of earlier tasks.

probe → split → analyze (first passes, audio, subtitles) → encode (second passes) → stitch
(per rung) → finish (package, thumbnails) → publish (asset rows, one transaction), then the
follow-up: qc (VMAF per rung, recorded on the published tracks when done).

The title is playable from publication; its quality scores arrive with the follow-up (on two
cores, scoring nine rungs costs about a third of encoding them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from matinee.assets.models import Asset, Track
from matinee.assets.store import AssetStore
from matinee.jobs.models import Job
from matinee.jobs.runner import Results
from matinee.jobs.store import NewTask
from matinee.media import ratecontrol
from matinee.media.ladder import PlannedRung
from matinee.storage import ObjectStore


def work_prefix(job_id: str) -> str:
    return f"work/{job_id}"


def asset_prefix(job_id: str) -> str:
    return f"assets/{job_id}"


class IngestPipeline:
    stages = ("probe", "split", "analyze", "encode", "stitch", "finish")
    followups = ("qc",)

    def __init__(self, objects: ObjectStore, assets: AssetStore) -> None:
        self._objects = objects
        self._assets = assets

    def plan(self, stage: str, job: Job, results: Results) -> list[NewTask]:
        p = job.params
        base = {"job_id": job.id}
        if stage == "probe":
            return [
                NewTask(
                    "probe",
                    "probe",
                    {
                        **base,
                        "master_key": p["master_key"],
                        "master_name": p.get("master_name"),
                        "ladder": p["ladder"],
                    },
                )
            ]
        probed = results["probe"]
        with_probe = {**base, "probe": probed["probe"]}
        if stage == "split":
            spec = {
                **with_probe,
                "master_key": p["master_key"],
                "chunk_seconds": p["chunk_seconds"],
                "segment_seconds": p["segment_seconds"],
            }
            return [NewTask("split", "split", spec)]
        planners = {
            "analyze": self._plan_analyze,
            "encode": self._plan_encode,
            "stitch": self._plan_stitch,
            "finish": self._plan_finish,
            "qc": self._plan_qc,
        }
        if stage not in planners:
            raise ValueError(f"unknown stage {stage}")
        return planners[stage](job, probed, results)

    def _plan_analyze(self, job: Job, probed: dict[str, Any], results: Results) -> list[NewTask]:
        """First passes of every chunk, with audio and subtitles alongside."""
        p, base = job.params, {"job_id": job.id}
        chunks = results["split"]["chunks"]
        tasks = [
            NewTask(
                f"analyze-{c['index']:04d}",
                "analyze_chunk",
                {
                    **base,
                    "probe": probed["probe"],
                    "chunk": c,
                    "rungs": probed["rungs"],
                    "ladder": p["ladder"],
                },
            )
            for c in chunks
        ]
        tasks += [
            NewTask(
                f"audio-{a['name']}",
                "encode_audio",
                {
                    **base,
                    "master_key": p["master_key"],
                    "stream_index": a["index"],
                    "name": a["name"],
                    "ladder": p["ladder"],
                },
            )
            for a in probed["audio"]
        ]
        tasks += [NewTask(f"subs-{s['name']}", "subtitles", {**base, **s}) for s in p["subtitles"]]
        return tasks

    def _plan_encode(self, job: Job, probed: dict[str, Any], results: Results) -> list[NewTask]:
        """Second passes, each chunk at the share of every rung's bits its first pass earned."""
        chunks = results["split"]["chunks"]
        analyzed = [results[f"analyze-{c['index']:04d}"] for c in chunks]
        durations = [float(a["duration"]) for a in analyzed]
        bitrates: list[dict[str, int]] = [{} for _ in chunks]
        for rung in probed["rungs"]:
            planned = PlannedRung.from_dict(rung)
            weights = [float(a["weights"][planned.name]) for a in analyzed]
            shares = ratecontrol.allocate(planned.bitrate_kbps, weights, durations)
            for per_chunk, kbps in zip(bitrates, shares, strict=True):
                per_chunk[planned.name] = kbps
        return [
            NewTask(
                f"encode-{c['index']:04d}",
                "encode_chunk",
                {
                    "job_id": job.id,
                    "probe": probed["probe"],
                    "chunk": c,
                    "rungs": probed["rungs"],
                    "ladder": job.params["ladder"],
                    "bitrates": kbps,
                },
            )
            for c, kbps in zip(chunks, bitrates, strict=True)
        ]

    def _plan_stitch(self, job: Job, probed: dict[str, Any], results: Results) -> list[NewTask]:
        encoded = sorted(
            (r for name, r in results.items() if name.startswith("encode-")),
            key=lambda r: int(r["index"]),
        )
        tasks = []
        for rung in probed["rungs"]:
            name = _rung_name(rung)
            parts = [r["outputs"][name] for r in encoded]
            tasks.append(
                NewTask(
                    f"stitch-{name}", "stitch", {"job_id": job.id, "rung": name, "parts": parts}
                )
            )
        return tasks

    def _plan_finish(self, job: Job, probed: dict[str, Any], results: Results) -> list[NewTask]:
        p, base = job.params, {"job_id": job.id}
        prefix = asset_prefix(job.id)
        video = _video_keys(probed, results)
        inputs: list[dict[str, Any]] = [{"kind": "video", "name": n, "key": k} for n, k in video]
        inputs += [
            {
                "kind": "audio",
                "name": a["name"],
                "language": a["language"],
                "key": results[f"audio-{a['name']}"]["key"],
            }
            for a in probed["audio"]
        ]
        inputs += [
            {
                "kind": "text",
                "name": s["name"],
                "language": s["language"],
                "key": results[f"subs-{s['name']}"]["key"],
            }
            for s in p["subtitles"]
        ]
        top = probed["rungs"][-1]
        duration = probed["probe"]["video"]["duration"]
        return [
            NewTask(
                "package",
                "package",
                {
                    **base,
                    "prefix": prefix,
                    "inputs": inputs,
                    "segment_seconds": p["segment_seconds"],
                },
            ),
            NewTask(
                "thumbnails",
                "thumbnails",
                {
                    **base,
                    "prefix": prefix,
                    # The poster comes from the best rendition; trickplay thumbnails are
                    # small, so they are cut from a small rendition (cheaper to decode).
                    "poster_source": video[-1][1],
                    "trickplay_source": _trickplay_source(probed["rungs"], video),
                    "duration": duration,
                    "width": top["width"],
                    "height": top["height"],
                },
            ),
        ]

    def _plan_qc(self, job: Job, probed: dict[str, Any], results: Results) -> list[NewTask]:
        video = _video_keys(probed, results)
        spec = {
            "job_id": job.id,
            "rungs": [{"name": n, "key": k} for n, k in video],
            "master_key": job.params["master_key"],
            "probe": probed["probe"],
        }
        return [NewTask("vmaf", "vmaf", spec)]

    def finish(self, job: Job, results: Results) -> None:
        if self._assets.get(job.id) is not None:  # published before a crash, not yet noted
            return
        probed, packaged = results["probe"], results["package"]
        thumbs = results["thumbnails"]
        by_playlist = {t["playlist"]: t for t in packaged["tracks"]}
        tracks = []
        for rung in probed["rungs"]:
            name = _rung_name(rung)
            t = by_playlist[f"video/{name}/index.m3u8"]
            tracks.append(
                Track(
                    kind="video",
                    name=name,
                    codecs=t["codecs"],
                    width=rung["width"],
                    height=rung["height"],
                    frame_rate=rung["fps"],
                    target_kbps=rung["rung"]["bitrate_kbps"],
                    peak_bps=t["peak_bps"],
                    average_bps=t["average_bps"],
                    playlist_key=f"{asset_prefix(job.id)}/{t['playlist']}",
                )
            )
        for t in packaged["tracks"]:
            if t["kind"] != "video":
                tracks.append(
                    Track(
                        kind=t["kind"],
                        name=t["name"],
                        codecs=t["codecs"],
                        language=t["name"].split("-")[0],
                        peak_bps=t["peak_bps"],
                        average_bps=t["average_bps"],
                        playlist_key=f"{asset_prefix(job.id)}/{t['playlist']}",
                    )
                )
        top = probed["rungs"][-1]
        self._assets.add(
            Asset(
                id=job.id,
                job_id=job.id,
                title=job.title,
                prefix=asset_prefix(job.id),
                hls_key=packaged["hls"],
                dash_key=packaged["dash"],
                poster_key=thumbs["poster"],
                trickplay_key=thumbs["trickplay"],
                duration=probed["probe"]["duration"],
                width=top["width"],
                height=top["height"],
                probe=probed["probe"],
                created_at=datetime.now(UTC),
                tracks=tracks,
            )
        )

    def complete(self, job: Job, results: Results) -> None:
        """Record each rung's VMAF on its published track (if scoring succeeded), then remove
        the work files the follow-ups needed."""
        scores = results.get("vmaf")
        if scores:
            self._assets.record_vmaf(
                job.id, {name: (s["mean"], s["min"]) for name, s in scores.items()}
            )
        self._objects.delete_prefix(work_prefix(job.id))

    def discard(self, job: Job) -> None:
        self._objects.delete_prefix(asset_prefix(job.id))
        self._objects.delete_prefix(work_prefix(job.id))


def _video_keys(probed: dict[str, Any], results: Results) -> list[tuple[str, str]]:
    """Each rung's name and its stitched rendition's key in the object store."""
    names = [_rung_name(r) for r in probed["rungs"]]
    return [(n, results[f"stitch-{n}"]["key"]) for n in names]


def _rung_name(rung: dict[str, Any]) -> str:
    return PlannedRung.from_dict(rung).name


def _trickplay_source(rungs: list[dict[str, Any]], video: list[tuple[str, str]]) -> str:
    """The smallest rendition at least 180 lines tall (trickplay thumbnails are 160 wide)."""
    for rung, (_, key) in zip(rungs, video, strict=True):
        if rung["height"] >= 180:
            return key
    return video[-1][1]
