"""What bench/qoe.py measured, reduced: time to first frame, stalls and rebuffer ratio, renditions
over time, the time to reach the highest sustainable rendition after a step up; one PNG per
condition (bitrate, buffer level, rendition over time) and the markdown table."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt

TTFF_TARGET_S: Final = {"loopback": 1.0, "3mbps": 2.5}
STEP_UP_TARGET_S: Final = 15.0

Schedule = tuple[tuple[float, float | None], ...]


@dataclass(frozen=True)
class Condition:
    name: str
    label: str
    schedule: Schedule  # (seconds after play is pressed, link Mb/s or None for unthrottled)
    watch_s: float


@dataclass
class Run:
    """The raw record of one condition: the page's window.__qoe, the player's variants, when
    each link change took effect (page clock, ms) and when the run ended (page clock, ms)."""

    condition: Condition
    qoe: dict[str, Any]
    variants: list[dict[str, Any]]
    changes: list[tuple[float, float | None]]
    ended_at: float


@dataclass
class Result:
    condition: str
    label: str
    ttff_s: float | None  # play pressed -> first frame presented
    player_ttff_ms: float | None  # what the player's stats() says
    stalls: int
    stall_s: float
    rebuffer_ratio: float | None  # stall time / time since the first frame
    player_rebuffers: int | None
    player_rebuffer_s: float | None
    mean_bitrate_mbps: float | None  # time-weighted declared bandwidth of the streamed variant
    heights_seen: list[int]
    ladder: list[tuple[int, int]]  # (height, bandwidth) of each variant, by bandwidth
    step_up_target: tuple[int, int] | None = None  # the top variant the last link sustains
    step_up_s: float | None = None  # step up -> that variant streaming
    first_up_s: float | None = None  # step up -> the first switch to a higher variant
    hosts: list[str] = field(default_factory=list)
    start_position_s: float | None = None  # where the playhead started (0: the beginning)
    ended_early: bool = False  # the title ended before the run did
    verdict: str = ""


def _variants(run: Run) -> list[tuple[int, int]]:
    seen = {(int(v["height"] or 0), int(v["bandwidth"] or 0)) for v in run.variants}
    return sorted(seen, key=lambda hb: hb[1])


def _stalls(run: Run) -> list[tuple[float, float]]:
    return [(s, e if e is not None else run.ended_at) for s, e in run.qoe.get("stalls", [])]


def analyse(run: Run) -> Result:
    q, cond = run.qoe, run.condition
    t0, first = q.get("t0"), q.get("firstFrame")
    samples: list[dict[str, Any]] = q.get("samples", [])
    last = samples[-1] if samples else {}
    stalls = _stalls(run)
    stall_s = sum(e - s for s, e in stalls) / 1000
    watched_s = (run.ended_at - first) / 1000 if first is not None else None
    ladder = _variants(run)
    result = Result(
        condition=cond.name,
        label=cond.label,
        ttff_s=(first - t0) / 1000 if first is not None and t0 is not None else None,
        player_ttff_ms=last.get("ttff_ms"),
        stalls=len(stalls),
        stall_s=round(stall_s, 3),
        rebuffer_ratio=stall_s / watched_s if watched_s else None,
        player_rebuffers=last.get("rebuffers"),
        player_rebuffer_s=last.get("rebuffer_s"),
        mean_bitrate_mbps=_mean_bitrate(samples, first),
        heights_seen=sorted({int(s["height"]) for s in samples if s.get("height")}),
        ladder=ladder,
        hosts=sorted({str(s["host"]) for s in samples if s.get("host")}),
        start_position_s=_start_position(samples, first),
        ended_early=any(s.get("ended") for s in samples),
    )
    if len(run.changes) > 1 and run.changes[-1][1] is not None:
        up_at, mbps = run.changes[-1]
        link_bps = (mbps or 0) * 1_000_000
        fitting = [hb for hb in ladder if hb[1] <= link_bps]
        if fitting:
            result.step_up_target = fitting[-1]
            reached = next(
                (
                    s["at"]
                    for s in samples
                    if s["at"] >= up_at and (s.get("bandwidth_bps") or 0) >= fitting[-1][1]
                ),
                None,
            )
            result.step_up_s = (reached - up_at) / 1000 if reached is not None else None
        after = [x for x in samples if x["at"] >= up_at]
        if after:
            was = after[0].get("bandwidth_bps") or 0
            higher = next((x["at"] for x in after if (x.get("bandwidth_bps") or 0) > was), None)
            result.first_up_s = (higher - up_at) / 1000 if higher is not None else None
    result.verdict = _verdict(result)
    return result


def _start_position(samples: list[dict[str, Any]], first: float | None) -> float | None:
    playing = [s for s in samples if first is not None and s["at"] >= first]
    return float(playing[0]["current"]) if playing else None


def _mean_bitrate(samples: list[dict[str, Any]], first: float | None) -> float | None:
    after = [s for s in samples if first is not None and s["at"] >= first]
    if len(after) < 2:
        return None
    total = sum(
        (b["at"] - a["at"]) * (a.get("bandwidth_bps") or 0) for a, b in itertools.pairwise(after)
    )
    return float(total / (after[-1]["at"] - after[0]["at"]) / 1_000_000)


def _verdict(r: Result) -> str:
    misses = []
    if r.start_position_s is not None and r.start_position_s > 2.0:
        misses.append(f"started at {r.start_position_s:.0f} s, not at the beginning")
    if r.ended_early:
        misses.append("the title ended before the run")
    target = TTFF_TARGET_S.get(r.condition)
    if r.ttff_s is None:
        misses.append("no first frame")
    elif target is not None and r.ttff_s > target:
        misses.append(f"TTFF over {target:g} s")
    if r.condition == "step":
        if r.stalls:
            misses.append("rebuffered")
        if r.step_up_s is None or r.step_up_s > STEP_UP_TARGET_S:
            misses.append(f"top sustainable rendition not reached within {STEP_UP_TARGET_S:g} s")
    return "met" if not misses else "missed: " + "; ".join(misses)


def _fmt(value: float | None, unit: str, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


def markdown_table(results: list[Result]) -> str:
    rows = [
        "| Condition | TTFF (play → first frame) | Player's TTFF | Stalls (time) "
        "| Rebuffer ratio | Mean variant bandwidth | Renditions streamed | Step up → top "
        "sustainable | Targets |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        step = "—"
        if r.step_up_target is not None:
            h, bw = r.step_up_target
            reach = _fmt(r.step_up_s, " s", 1) if r.step_up_s is not None else "not reached"
            first = _fmt(r.first_up_s, " s", 1) if r.first_up_s is not None else "none"
            step = f"{reach} ({h}p, {bw / 1e6:.2f} Mb/s); first switch up {first}"
        rows.append(
            f"| {r.label} | {_fmt(r.ttff_s, ' s')} | {_fmt(r.player_ttff_ms, ' ms', 0)} "
            f"| {r.stalls} ({r.stall_s:.2f} s) | {_fmt(r.rebuffer_ratio, '', 4)} "
            f"| {_fmt(r.mean_bitrate_mbps, ' Mb/s')} "
            f"| {', '.join(f'{h}p' for h in r.heights_seen) or 'none'} | {step} | {r.verdict} |"
        )
    return "\n".join(rows)


def plot(run: Run, result: Result, path: Path) -> None:
    """Bitrate (streamed variant, estimate, link), buffer ahead and rendition over time."""
    q = run.qoe
    t0 = q.get("t0") or 0.0
    samples = q.get("samples", [])
    xs = [(s["at"] - t0) / 1000 for s in samples]
    end_x = (run.ended_at - t0) / 1000
    fig, (rate, buf, rend) = plt.subplots(3, 1, figsize=(10, 7.5), sharex=True)
    rate.step(xs, [(s.get("bandwidth_bps") or 0) / 1e6 for s in samples], where="post",
              label="streamed variant")  # fmt: skip
    rate.plot(xs, [(s.get("estimated_bps") or 0) / 1e6 for s in samples], lw=1, alpha=0.8,
              label="player's estimate")  # fmt: skip
    link_x, link_y = _link_steps(run, t0, end_x)
    if link_x:
        rate.step(link_x, link_y, where="post", ls="--", color="black", label="link")
    # The estimate reaches hundreds of Mb/s on loopback: the axis shows the ladder and the link.
    finite_link = [y for y in link_y if not math.isnan(y)]
    top = max([bw / 1e6 for _, bw in result.ladder] + finite_link + [1.0])
    rate.set_ylim(0, top * 1.3)
    rate.set_ylabel("Mb/s")
    rate.legend(loc="upper right", fontsize=8)
    buf.plot(xs, [s.get("buffered_s") or 0 for s in samples], color="tab:green")
    buf.set_ylabel("buffer ahead (s)")
    heights = [s.get("height") or math.nan for s in samples]  # none before the first frame
    rend.step(xs, heights, where="post", color="tab:purple")
    rend.set_ylabel("rendition (px tall)")
    rend.set_yticks(sorted({h for h, _ in result.ladder}) or [0])
    rend.set_xlabel("seconds since play was pressed")
    first = q.get("firstFrame")
    for ax in (rate, buf, rend):
        ax.grid(alpha=0.3)
        if first is not None:
            ax.axvline((first - t0) / 1000, color="grey", lw=0.8, ls=":")
        for s, e in _stalls(run):
            ax.axvspan((s - t0) / 1000, (e - t0) / 1000, color="red", alpha=0.2)
    ttff = _fmt(result.ttff_s, " s")
    fig.suptitle(
        f"{result.label}: TTFF {ttff}, {result.stalls} stall(s), "
        f"rebuffer ratio {_fmt(result.rebuffer_ratio, '', 4)}"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _link_steps(run: Run, t0: float, end_x: float) -> tuple[list[float], list[float]]:
    if all(mbps is None for _, mbps in run.changes):
        return [], []
    xs = [max(0.0, (at - t0) / 1000) for at, _ in run.changes] + [end_x]
    ys = [mbps if mbps is not None else float("nan") for _, mbps in run.changes]
    return xs, [*ys, ys[-1]]
