"""Benchmark: the CDN cache study. Byte hit ratio of edge caching strategies on synthetic traces.

A synthetic catalog of episodes and films, each cut into 4 s segments for every rung of
matinee's default ladder (9 rungs, 145 kb/s to 7.8 Mb/s), is watched for several days in
several regions. Each day every region's plays follow Zipf(alpha) over its own popularity order:
a global order, a fixed regional offset per title (some titles are local to one region), a daily
random drift, and new titles arriving with a launch boost that fades. A play picks a device
rung (startup at lower rungs), may resume mid-title, and may abandon early. Every segment fetch
is one request, in time order, to the region's edge cluster.

Strategies, per cluster, at 5%, 10% and 20% of the catalog's bytes (all titles, all rungs):
LRU, SIEVE, S3-FIFO (pull-through); proactive fill plus S3-FIFO pull-through, where the fill at
the start of each day is planned by ``matinee.cdn.popularity`` from the plays and requests seen
before that moment plus the catalog's release dates (no look at the future); and Belady's
offline rule (byte-aware, demand fetch only). Day 0 only warms the caches.

    .venv/bin/python bench/cdn_cache_study.py [--plays-per-day 3000] [--days 8] [--seed 1] \\
        [--jobs 2] [--fill-fraction 0.8] [--png docs/cdn-hit-ratio.png]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from matinee.cdn import LRU, S3FIFO, SIEVE, CacheIndex
from matinee.cdn.popularity import (
    DemandShape,
    FillPlan,
    FillPlanner,
    PopularityModel,
    Rendition,
    TitleMedia,
)
from matinee.cdn.simulation import NEVER, Tally, Trace, replay, replay_belady, replay_with_fill
from matinee.clock import FakeClock
from matinee.media.ladder import DEFAULT_LADDER

DAY = 86_400.0
ALPHA = "\N{GREEK SMALL LETTER ALPHA}"
DOCS = Path(__file__).parent.parent / "docs"
CAPACITIES = (0.05, 0.10, 0.20)
STRATEGIES = ("lru", "sieve", "s3fifo", "fill", "belady")
LABELS = {
    "lru": "LRU",
    "sieve": "SIEVE",
    "s3fifo": "S3-FIFO",
    "fill": "Fill + pull (S3-FIFO)",
    "belady": "Belady (offline)",
}
RUNGS = [r.name for r in DEFAULT_LADDER.rungs]
BITRATES = np.array([r.bitrate_kbps * 1000 for r in DEFAULT_LADDER.rungs], dtype=np.float64)
# A play's rung, lowest first, by device: TVs take most viewing and climb to the top rungs on
# broadband; phones stop at 540p-720p. Startup (the first two segments) is lower still.
DEVICES = {  # share of plays, then the chance of each rung
    "tv": (0.65, [0, 0, 0, 0, 0, 0.05, 0.10, 0.25, 0.60]),
    "computer": (0.10, [0, 0, 0, 0, 0, 0.15, 0.25, 0.30, 0.30]),
    "phone": (0.25, [0, 0, 0.10, 0.20, 0.50, 0.20, 0, 0, 0]),
}
RUNG_MIX = np.stack([share * np.array(mix) for share, mix in DEVICES.values()]).sum(axis=0)
BINS = 20


@dataclass(frozen=True)
class Workload:
    seed: int = 1
    alpha: float = 1.0
    titles: int = 200  # catalog at the start
    new_per_day: int = 3  # titles released at the start of each later day
    days: int = 7  # day 0 warms the caches; days 1.. are measured
    region_shares: tuple[float, ...] = (0.4, 0.3, 0.2, 0.1)
    plays_per_day: int = 2000  # all regions together
    segment_seconds: float = DEFAULT_LADDER.segment_seconds
    region_spread: float = 0.8  # sd of a title's regional log-popularity offset
    local_share: float = 0.15  # titles made for one region
    drift: float = 0.25  # sd of the daily change of a title's log-popularity
    launch_days: float = 2.0  # a new title's launch boost decays with this time constant

    @property
    def total_titles(self) -> int:
        return self.titles + self.new_per_day * (self.days - 1)


@dataclass
class Catalog:
    published: NDArray[np.float64]  # release time, seconds (negative: before the study)
    segments: NDArray[np.int64]  # segments per rendition
    offsets: NDArray[np.int64]  # first file id of each title (rung-major, then segment)
    sizes: NDArray[np.int64]  # bytes per file id

    def media(self, t: int) -> TitleMedia[int]:
        n, off = int(self.segments[t]), int(self.offsets[t])
        sizes = array("q", self.sizes[off : off + n * len(RUNGS)].tobytes())
        return TitleMedia(
            str(t),
            tuple(
                Rendition(name, range(off + r * n, off + (r + 1) * n), sizes[r * n : (r + 1) * n])
                for r, name in enumerate(RUNGS)
            ),
        )


def make_catalog(w: Workload) -> Catalog:
    rng = np.random.default_rng([w.seed, 1])
    n = w.total_titles
    published = -rng.exponential(365 * DAY, n)
    published[w.titles :] = DAY * (1 + np.arange(n - w.titles) // w.new_per_day)
    film = rng.random(n) < 0.35
    minutes = np.where(film, rng.uniform(85, 140, n), rng.uniform(22, 60, n))
    segments = np.ceil(minutes * 60 / w.segment_seconds).astype(np.int64)
    complexity = rng.lognormal(0.0, 0.25, n)  # per-title encoding: some titles need fewer bits
    files = segments * len(RUNGS)
    offsets = np.concatenate(([0], np.cumsum(files)[:-1]))
    title_of = np.repeat(np.arange(n), files)
    rung_of = (np.arange(files.sum()) - offsets[title_of]) // segments[title_of]
    nominal = BITRATES[rung_of] * w.segment_seconds / 8 * complexity[title_of]
    sizes = np.maximum(nominal * rng.lognormal(-0.02, 0.2, nominal.size), 1000).astype(np.int64)
    return Catalog(published, segments, offsets, sizes)


def daily_weights(w: Workload, catalog: Catalog) -> NDArray[np.float64]:
    """weights[region, day, title]: each region's Zipf(alpha) over its order of the day."""
    rng = np.random.default_rng([w.seed, 2])
    n, regions = w.total_titles, len(w.region_shares)
    base = -np.log(rng.permutation(n) + 1.0)  # a global order
    offset = rng.normal(0.0, w.region_spread, (regions, n))
    local = rng.random(n) < w.local_share
    home = rng.integers(0, regions, n)
    offset[:, local] -= 2.0
    offset[home[local], np.flatnonzero(local)] += 4.0
    drift = np.cumsum(rng.normal(0.0, w.drift, (regions, w.days, n)), axis=1)
    weights = np.zeros((regions, w.days, n))
    boost_height = rng.uniform(0.3, 1.0, n) * math.log(n)  # some launches are bigger
    for d in range(w.days):
        age_days = (d * DAY - catalog.published) / DAY
        live = age_days >= 0
        boost = boost_height * np.exp(-np.clip(age_days, 0, None) / w.launch_days)
        for r in range(regions):
            score = np.where(live, base + offset[r] + drift[r, d] + boost, -np.inf)
            ranks = np.empty(n)
            ranks[np.argsort(-score, kind="stable")] = np.arange(1, n + 1)
            weights[r, d] = np.where(live, ranks ** (-w.alpha), 0.0)
            weights[r, d] /= weights[r, d].sum()
    return weights


@dataclass
class RegionTrace:
    trace: Trace[int]
    keys: array[int]
    times: NDArray[np.float64]
    rungs: NDArray[np.int8]
    bins: NDArray[np.int8]
    play_times: NDArray[np.float64]
    play_titles: NDArray[np.int64]
    day_starts: list[int]  # index of the first request of each day


def viewing(
    rng: np.random.Generator, nseg: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """First segment and segment count of plays of titles with ``nseg`` segments: 30% resume
    mid-title; 20% stop within a tenth of the rest, 45% watch to the end, the rest stop at a
    uniform point."""
    plays = nseg.size
    resume = rng.random(plays) < 0.3
    first = np.where(resume, (rng.uniform(0.05, 0.85, plays) * nseg).astype(np.int64), 0)
    u = rng.random(plays)
    watch = np.where(u < 0.2, rng.uniform(0, 0.1, plays), rng.uniform(0.1, 1.0, plays))
    watch = np.where(u > 0.55, 1.0, watch)
    return first, np.maximum(1, np.round(watch * (nseg - first))).astype(np.int64)


def fluid_bound(w: Workload, catalog: Catalog, weights: NDArray[np.float64]) -> dict[float, float]:
    """Byte hit ratio of the ideal static placement with an infinite audience: every (title,
    rung, position bin) unit ranked by its expected requests, knowing each day's true
    popularity. No placement fixed for a day does better in expectation; a finite audience makes
    realised demand lumpier than expected, and a dynamic cache can reuse space within a day, so
    Belady, which also knows the exact future, can exceed it."""
    rng = np.random.default_rng([w.seed, 4])
    probe = np.full(100_000, 1000, dtype=np.int64)
    first, length = viewing(rng, probe)
    edges = np.zeros(1001)
    np.add.at(edges, first, 1.0)
    np.add.at(edges, first + length, -1.0)
    profile = np.cumsum(edges)[:1000].reshape(BINS, -1).mean(axis=1)
    n = w.total_titles
    files = catalog.segments * len(RUNGS)
    title_of = np.repeat(np.arange(n), files)
    index = np.arange(files.sum()) - catalog.offsets[title_of]
    rung_of, seg_of = index // catalog.segments[title_of], index % catalog.segments[title_of]
    unit = (title_of * len(RUNGS) + rung_of) * BINS + seg_of * BINS // catalog.segments[title_of]
    unit_bytes = np.bincount(unit, weights=catalog.sizes, minlength=n * len(RUNGS) * BINS)
    out = dict.fromkeys(CAPACITIES, 0.0)
    for d in range(1, w.days):
        for r, share in enumerate(w.region_shares):
            density = (weights[r, d][:, None, None] * RUNG_MIX[:, None] * profile).ravel()
            order = np.argsort(-density, kind="stable")
            held = np.cumsum(unit_bytes[order])
            demand = np.cumsum((density * unit_bytes)[order])
            for frac in CAPACITIES:
                k = int(np.searchsorted(held, frac * held[-1], side="right"))
                out[frac] += share * demand[k - 1] / demand[-1] / (w.days - 1)
    return out


def make_trace(w: Workload, catalog: Catalog, weights: NDArray[np.float64], r: int) -> RegionTrace:
    rng = np.random.default_rng([w.seed, 3, r])
    hours = 0.15 + np.exp(-(((np.arange(24) - 17.0) / 2.5) ** 2) / 2)  # day starts at 04:00
    hours /= hours.sum()
    titles, starts = [], []
    for d in range(w.days):
        count = round(w.plays_per_day * w.region_shares[r])
        titles.append(rng.choice(w.total_titles, count, p=weights[r, d]))
        starts.append(d * DAY + 3600 * (rng.choice(24, count, p=hours) + rng.random(count)))
    title = np.concatenate(titles)
    start = np.concatenate(starts)
    plays = title.size
    first, length = viewing(rng, catalog.segments[title])
    target = rng.choice(len(RUNGS), plays, p=RUNG_MIX)

    play = np.repeat(np.arange(plays), length)
    step = np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
    rung = np.repeat(target, length)
    rung = np.where(step == 0, np.minimum(rung, 2), np.where(step == 1, np.minimum(rung, 4), rung))
    seg = first[play] + step
    t = title[play]
    key = catalog.offsets[t] + rung * catalog.segments[t] + seg
    when = start[play] + step * w.segment_seconds
    order = np.argsort(when, kind="stable")
    key, when, rung = key[order], when[order], rung[order]
    pos_bin = (seg[order] * BINS // catalog.segments[t[order]]).astype(np.int8)
    sizes = catalog.sizes[key]
    day_starts = np.searchsorted(when, DAY * np.arange(w.days)).tolist()
    by_start = np.argsort(start, kind="stable")
    keys = array("q", key.astype(np.int64).tobytes())
    return RegionTrace(
        trace=Trace(keys, array("q", sizes.astype(np.int64).tobytes()), day_starts[1]),
        keys=keys,
        times=when,
        rungs=rung.astype(np.int8),
        bins=pos_bin,
        play_times=start[by_start],
        play_titles=title[by_start],
        day_starts=day_starts,
    )


def next_uses(keys: array[int]) -> array[int]:
    k = np.frombuffer(keys, dtype=np.int64)
    order = np.argsort(k, kind="stable")
    same = k[order][1:] == k[order][:-1]
    nxt = np.full(k.size, NEVER, dtype=np.int64)
    nxt[order[:-1][same]] = order[1:][same]
    return array("q", nxt.tobytes())


class DailyFill:
    """The fill controller's decisions for one region, from what it could have seen."""

    def __init__(self, w: Workload, catalog: Catalog, rt: RegionTrace, planner: FillPlanner[int]):
        self._rt = rt
        self._planner = planner
        self._published = {str(t): float(p) for t, p in enumerate(catalog.published)}
        self._clock = FakeClock(start=0.0)
        self._model = PopularityModel(self._clock, half_life=DAY)
        self._recorded = 0
        self._memo: dict[int, tuple[dict[str, float], DemandShape]] = {}

    def inputs(self, index: int) -> tuple[dict[str, float], DemandShape]:
        """Scores and demand shape at the start of the day beginning at ``index``."""
        if index not in self._memo:
            rt = self._rt
            d = rt.day_starts.index(index)
            self._clock.advance(d * DAY - self._clock.time())
            seen = int(np.searchsorted(rt.play_times, d * DAY))
            for at, title in zip(
                rt.play_times[self._recorded : seen].tolist(),
                rt.play_titles[self._recorded : seen].tolist(),
                strict=True,
            ):
                self._model.record_play("r", str(title), at=at)
            self._recorded = seen
            lo = rt.day_starts[d - 1]
            rung_counts = np.bincount(rt.rungs[lo:index], minlength=len(RUNGS))
            bin_counts = np.bincount(rt.bins[lo:index], minlength=BINS)
            shape = DemandShape.from_counts(
                dict(zip(RUNGS, rung_counts.tolist(), strict=True)), bin_counts.tolist()
            )
            self._memo[index] = (self._model.scores("r", self._published), shape)
        return self._memo[index]

    def planner(self, budget: int) -> Callable[[int], dict[int, int]]:
        previous: list[FillPlan[int]] = []

        def plan(index: int) -> dict[int, int]:
            scores, shape = self.inputs(index)
            made = self._planner.plan(
                scores, budget, shape, previous=previous[-1] if previous else None
            )
            previous.append(made)
            return made.files

        return plan


def run_region(args: tuple[Workload, int, float]) -> dict[tuple[str, float], Tally]:
    w, r, fill_fraction = args
    catalog = make_catalog(w)
    rt = make_trace(w, catalog, daily_weights(w, catalog), r)
    catalog_bytes = int(catalog.sizes.sum())
    nexts = next_uses(rt.keys)
    planner = FillPlanner((catalog.media(t) for t in range(w.total_titles)), bins=BINS)
    fill = DailyFill(w, catalog, rt, planner)
    out: dict[tuple[str, float], Tally] = {}
    for frac in CAPACITIES:
        cap = int(frac * catalog_bytes)
        for name, policy in (("lru", LRU), ("sieve", SIEVE), ("s3fifo", S3FIFO)):
            index: CacheIndex[int] = policy(cap)
            out[name, frac] = replay(rt.trace, index)
        out["fill", frac] = replay_with_fill(
            rt.trace, S3FIFO(cap), rt.day_starts[1:], fill.planner(int(fill_fraction * cap))
        )
        out["belady", frac] = replay_belady(rt.trace, cap, nexts)
    return out


Results = dict[float, dict[tuple[str, float], Tally]]
Bounds = dict[float, dict[float, float]]


def report(results: Results, ideal: Bounds) -> None:
    print("\n### Byte hit ratio (measured days, all regions)\n")
    heads = [LABELS[s] for s in STRATEGIES] + ["Ideal static placement (fluid)"]
    print(f"| Zipf {ALPHA} | capacity | " + " | ".join(heads) + " |")
    print("|---|---|" + "---|" * len(heads))
    for alpha, res in results.items():
        for frac in CAPACITIES:
            cells = [f"{100 * res[s, frac].byte_hit_ratio:.1f}%" for s in STRATEGIES]
            cells.append(f"{100 * ideal[alpha][frac]:.1f}%")
            print(f"| {alpha} | {frac:.0%} | " + " | ".join(cells) + " |")
    print(
        "\n### Origin egress over the measured days (fill: misses + daily refills, sent in the "
        "fill window; the initial load, like the pull caches' warm-up day, is shown apart)\n"
    )
    print(
        f"| Zipf {ALPHA} | capacity | requested | LRU | S3-FIFO | Fill + pull "
        "| initial load | Belady |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for alpha, res in results.items():
        for frac in CAPACITIES:
            req = res["lru", frac].requested_bytes
            f = res["fill", frac]
            refills = f.fill_bytes - f.first_fill_bytes

            def cell(upstream: int, req: int = req) -> str:
                return f"{upstream / 1e12:.2f} TB (saves {1 - upstream / req:.0%})"

            print(
                f"| {alpha} | {frac:.0%} | {req / 1e12:.2f} TB "
                f"| {cell(res['lru', frac].miss_bytes)} | {cell(res['s3fifo', frac].miss_bytes)} "
                f"| {f.miss_bytes / 1e12:.2f} + {refills / 1e12:.2f} = "
                f"{cell(f.miss_bytes + refills)} | {f.first_fill_bytes / 1e12:.2f} TB "
                f"| {cell(res['belady', frac].miss_bytes)} |"
            )
    print(
        "\n### Targets (fill + pull-through at 20%: >= 90% byte hit ratio, within 5 points "
        "of Belady)\n"
    )
    for alpha, res in results.items():
        fill, bel = res["fill", 0.2].byte_hit_ratio, res["belady", 0.2].byte_hit_ratio
        ok1, ok2 = fill >= 0.9, fill >= bel - 0.05
        print(
            f"- {ALPHA}={alpha}: {100 * fill:.1f}% ({'met' if ok1 else 'MISSED'}); Belady "
            f"{100 * bel:.1f}%, gap {100 * (bel - fill):+.1f} points ({'met' if ok2 else 'MISSED'})"
            f"; ideal static placement {100 * ideal[alpha][0.2]:.1f}%"
        )


def plot(results: Results, ideal: Bounds, path: Path, w: Workload) -> None:
    import matplotlib  # noqa: PLC0415 - only the plot needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4.8), sharey=True)
    axes = np.atleast_1d(axes)
    xs = [100 * f for f in CAPACITIES]
    for ax, (alpha, res) in zip(axes, results.items(), strict=True):
        for s in STRATEGIES:
            ys = [100 * res[s, f].byte_hit_ratio for f in CAPACITIES]
            ax.plot(xs, ys, "--" if s == "belady" else "-", marker="o", label=LABELS[s])
        ys = [100 * ideal[alpha][f] for f in CAPACITIES]
        ax.plot(xs, ys, ":", color="black", label="Ideal static placement (fluid)")
        ax.axhline(90, color="grey", linewidth=0.8, linestyle=":")
        ax.set_title(f"Zipf {ALPHA} = {alpha}")
        ax.set_xlabel("cluster capacity (% of catalog bytes)")
        ax.set_xticks(xs)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("byte hit ratio (%)")
    axes[0].legend(loc="lower right", fontsize=8)
    fig.suptitle(
        f"Edge byte hit ratio: {w.titles} titles + {w.new_per_day}/day, "
        f"{len(w.region_shares)} regions, {w.plays_per_day} plays/day, days 1-{w.days - 1}"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--titles", type=int, default=Workload.titles)
    p.add_argument("--new-per-day", type=int, default=Workload.new_per_day)
    p.add_argument("--days", type=int, default=Workload.days)
    p.add_argument("--plays-per-day", type=int, default=Workload.plays_per_day)
    p.add_argument("--alphas", type=float, nargs="+", default=[0.8, 1.0])
    p.add_argument("--fill-fraction", type=float, default=0.8, help="share of capacity filled")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--png", type=Path, default=DOCS / "cdn-hit-ratio.png")
    a = p.parse_args()
    base = Workload(
        seed=a.seed, titles=a.titles, new_per_day=a.new_per_day, days=a.days,
        plays_per_day=a.plays_per_day,
    )  # fmt: skip
    started, cpu0 = time.perf_counter(), time.process_time()
    regions = sorted(range(len(base.region_shares)), key=lambda r: -base.region_shares[r])
    tasks = [(replace(base, alpha=x), r, a.fill_fraction) for x in a.alphas for r in regions]
    with multiprocessing.get_context("fork").Pool(a.jobs) as pool:
        parts = pool.map_async(run_region, tasks, chunksize=1)
        catalog = make_catalog(base)
        ideal = {
            x: fluid_bound(w, catalog, daily_weights(w, catalog))
            for x in a.alphas
            for w in [replace(base, alpha=x)]
        }
        done = parts.get()
    child_cpu = sum(os.times()[2:4])
    results: Results = {}
    for (w, _, _), part in zip(tasks, done, strict=True):
        res = results.setdefault(w.alpha, {})
        for k, tally in part.items():
            res[k] = res[k] + tally if k in res else tally
    requests = results[a.alphas[0]]["lru", CAPACITIES[0]].requests
    print(
        f"catalog: {base.total_titles} titles ({base.titles} + {base.new_per_day}/day), "
        f"{catalog.sizes.size:,} files, {catalog.sizes.sum() / 1e12:.2f} TB; "
        f"{len(base.region_shares)} regions; {base.plays_per_day} plays/day; "
        f"{requests:,} measured requests per {ALPHA}; seed {base.seed}"
    )
    report(results, ideal)
    plot(results, ideal, a.png, base)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu0 + child_cpu
    print(f"\nwall {wall:.0f} s, CPU {cpu:.0f} s on {a.jobs} worker(s); plot: {a.png}")


if __name__ == "__main__":
    main()
