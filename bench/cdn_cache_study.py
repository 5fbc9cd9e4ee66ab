"""Benchmark: the CDN cache study. Byte hit ratio of edge caching strategies on synthetic traces.

The traces (``cdn_traces.py``): a synthetic catalog of episodes and films, each cut into 4 s
segments for every rung of matinee's default ladder, watched for several days in several
regions, with Zipf popularity per region, regional skew and daily churn; a workload
(``cdn_workload.py``: ``broadband``, the default, or ``spread``, the first study's) decides how
far each play goes and the rung of every segment. Every segment fetch is one request, in time
order, to the region's edge cluster.

Strategies, per cluster, at 5%, 10% and 20% of the catalog's bytes (all titles, all rungs):
LRU, SIEVE, S3-FIFO (pull-through); proactive fill plus S3-FIFO pull-through, where the fill at
the start of each day is planned by ``matinee.cdn.popularity`` from the plays and requests seen
before that moment plus the catalog's release dates (no look at the future); and Belady's
offline rule (byte-aware, demand fetch only). Day 0 only warms the caches. Two references:
an infinite cache (only first requests miss) and the ideal static placement.

    .venv/bin/python bench/cdn_cache_study.py [--workload broadband spread] \\
        [--plays-per-day 2000] [--days 7] [--seed 1] [--jobs 2] [--png docs/cdn-hit-ratio.png] \\
        [--strategies lru sieve s3fifo fill belady] [--capacities 0.05 0.1 0.2] [--json out.json]

``--strategies`` and ``--capacities`` replay a subset (the audience sweep of the docs uses them:
the replays are pure Python, about a microsecond per request and strategy, so a 16,000-play
run of all strategies at every capacity takes about an hour on one core); ``--json`` writes the
byte hit ratios for tables made elsewhere.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from cdn_traces import (
    BINS,
    BITRATES,
    CAPACITIES,
    DAY,
    RUNGS,
    Catalog,
    RegionTrace,
    Workload,
    daily_weights,
    diurnal,
    fluid_bound,
    infinite_cache,
    make_catalog,
    make_trace,
    next_uses,
)
from cdn_workload import CATALOG_SCALE, WORKLOADS, request_profile

from matinee.cdn import LRU, S3FIFO, SIEVE, CacheIndex
from matinee.cdn.popularity import DemandShape, FillPlan, FillPlanner, PopularityModel
from matinee.cdn.simulation import Tally, replay, replay_belady, replay_with_fill
from matinee.clock import FakeClock

ALPHA = "\N{GREEK SMALL LETTER ALPHA}"
DOCS = Path(__file__).parent.parent / "docs"
STRATEGIES = ("lru", "sieve", "s3fifo", "fill", "belady")  # "infinite" is reported apart
LABELS = {
    "lru": "LRU",
    "sieve": "SIEVE",
    "s3fifo": "S3-FIFO",
    "fill": "Fill + pull (S3-FIFO)",
    "belady": "Belady (offline)",
}
# What an audience means in real terms (see describe): Netflix US had about 36,000 hours
# of content in 2020 (What's on Netflix); Netflix streams average about 3 Mb/s at prime time
# (ISP Speed Index, top-tier countries).
REAL_CATALOG_HOURS = 36_000
REAL_MEAN_BPS = 3e6


class DailyFill:
    """The fill controller's decisions for one region, from what it could have seen."""

    def __init__(
        self,
        w: Workload,
        catalog: Catalog,
        rt: RegionTrace,
        planner: FillPlanner[int],
        *,
        half_life: float = DAY,
    ):
        self._rt = rt
        self._planner = planner
        self._published = {str(t): float(p) for t, p in enumerate(catalog.published)}
        self._clock = FakeClock(start=0.0)
        self._model = PopularityModel(self._clock, half_life=half_life)
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


Task = tuple[Workload, int, float, tuple[str, ...], tuple[float, ...]]


def run_region(args: Task) -> dict[tuple[str, float], Tally]:
    """One region's tallies: (workload, region, fill fraction, strategies, capacities)."""
    w, r, fill_fraction, strategies, capacities = args
    catalog = make_catalog(w)
    rt = make_trace(w, catalog, daily_weights(w, catalog), r)
    catalog_bytes = int(catalog.sizes.sum())
    nexts = next_uses(rt.keys)
    planner = FillPlanner((catalog.media(t) for t in range(w.total_titles)), bins=BINS)
    fill = DailyFill(w, catalog, rt, planner)
    out: dict[tuple[str, float], Tally] = {}
    for frac in capacities:
        cap = int(frac * catalog_bytes)
        for name, policy in (("lru", LRU), ("sieve", SIEVE), ("s3fifo", S3FIFO)):
            if name in strategies:
                index: CacheIndex[int] = policy(cap)
                out[name, frac] = replay(rt.trace, index)
        if "fill" in strategies:
            out["fill", frac] = replay_with_fill(
                rt.trace, S3FIFO(cap), rt.day_starts[1:], fill.planner(int(fill_fraction * cap))
            )
        if "belady" in strategies:
            out["belady", frac] = replay_belady(rt.trace, cap, nexts)
        out["infinite", frac] = infinite_cache(rt.trace, nexts)
    return out


Results = dict[float, dict[tuple[str, float], Tally]]
Bounds = dict[float, dict[float, float]]


@dataclass
class Study:
    """One workload's results, per alpha and (strategy, capacity), summed over the regions."""

    workload: Workload
    results: Results
    ideal: Bounds
    wall: float
    cpu: float
    strategies: tuple[str, ...] = STRATEGIES
    capacities: tuple[float, ...] = CAPACITIES

    def to_json(self) -> dict[str, object]:
        """Byte hit ratios (and what they were measured on), for tables made elsewhere."""
        rows = []
        for alpha, res in self.results.items():
            for (name, frac), t in sorted(res.items()):
                rows.append(
                    {"alpha": alpha, "strategy": name, "capacity": frac,
                     "byte_hit_ratio": t.byte_hit_ratio, "requests": t.requests,
                     "requested_bytes": t.requested_bytes, "hit_bytes": t.hit_bytes,
                     "fill_bytes": t.fill_bytes, "first_fill_bytes": t.first_fill_bytes}
                )  # fmt: skip
            for frac in self.capacities:
                rows.append(
                    {"alpha": alpha, "strategy": "ideal", "capacity": frac,
                     "byte_hit_ratio": self.ideal[alpha][frac]}
                )  # fmt: skip
        w = self.workload
        return {
            "workload": w.workload, "plays_per_day": w.plays_per_day, "days": w.days,
            "seed": w.seed, "titles": w.titles, "catalog_scale": w.catalog_scale,
            "wall_s": self.wall, "cpu_s": self.cpu, "rows": rows,
        }  # fmt: skip


def describe(w: Workload, catalog: Catalog, alphas: list[float]) -> None:
    """The workload in numbers: where demand sits by rung and position, and what the audience
    amounts to in real terms (catalog hours watched per day, and the site that would do it)."""
    profile = request_profile(
        w.audience(), np.random.default_rng([w.seed, 5]), rungs=len(RUNGS), bins=BINS
    )
    per_rung = profile.sum(axis=1)
    requests, volume = per_rung / per_rung.sum(), per_rung * BITRATES / (per_rung @ BITRATES)
    print(f"\n### Workload `{w.workload}`: share of segment requests and bytes by rung\n")
    print("| rung | " + " | ".join(RUNGS) + " |")
    print("|---|" + "---|" * len(RUNGS))
    print("| requests | " + " | ".join(f"{100 * x:.1f}%" for x in requests) + " |")
    print("| bytes | " + " | ".join(f"{100 * x:.1f}%" for x in volume) + " |")
    by_tenth = profile.sum(axis=0).reshape(10, -1).mean(axis=1)
    print(
        "\nRequests per segment by tenth of the title (first tenth = 100): "
        + " ".join(f"{100 * x / by_tenth[0]:.0f}" for x in by_tenth)
    )
    watched = float(profile.sum(axis=0).mean())  # share of a title one play watches
    title_hours = catalog.segments * w.segment_seconds / 3600
    catalog_hours = float(title_hours[: w.titles].sum())
    hours = diurnal()
    peak = hours.max() / hours.mean()  # peak concurrency over the daily mean
    cells = []
    for share in w.region_shares:
        plays = w.plays_per_day * share
        per_day = plays * watched * float(title_hours.mean()) / catalog_hours
        gbps = per_day * REAL_CATALOG_HOURS / 24 * peak * REAL_MEAN_BPS / 1e9
        cells.append(f"{plays:.0f} plays = {per_day:.2f} ({gbps:.0f} Gb/s)")
    top = []
    for alpha in alphas:
        wa = replace(w, alpha=alpha)
        day = np.sort(daily_weights(wa, catalog)[:, 1].mean(axis=0))[::-1]
        live = int(np.count_nonzero(day))
        top.append(f"{100 * day[: live // 5].sum():.1f}% at {ALPHA} = {alpha}")
    print(
        "\nShare of day 1's plays (all regions) going to the top 20% of titles: "
        + ", ".join(top)
        + " (Netflix's 2023 engagement report: 83.6% of hours to the top 20% of titles)"
    )
    print(
        f"\nA play watches {100 * watched:.0f}% of a title on average. Audience per region, in "
        f"catalog-hours watched per day over a {catalog_hours:.0f}-hour catalog (and the peak "
        f"of a real site doing the same against a {REAL_CATALOG_HOURS:,}-hour catalog at "
        f"{REAL_MEAN_BPS / 1e6:.0f} Mb/s a stream): " + "; ".join(cells)
    )


def report(study: Study) -> None:
    results, ideal = study.results, study.ideal
    strategies, capacities = study.strategies, study.capacities
    name = study.workload.workload
    print(f"\n### Byte hit ratio (measured days, all regions), workload `{name}`\n")
    heads = [LABELS[s] for s in strategies] + ["Infinite cache", "Ideal static placement"]
    print(f"| Zipf {ALPHA} | capacity | " + " | ".join(heads) + " |")
    print("|---|---|" + "---|" * len(heads))
    for alpha, res in results.items():
        for frac in capacities:
            cells = [f"{100 * res[s, frac].byte_hit_ratio:.1f}%" for s in strategies]
            cells.append(f"{100 * res['infinite', frac].byte_hit_ratio:.1f}%")
            cells.append(f"{100 * ideal[alpha][frac]:.1f}%")
            print(f"| {alpha} | {frac:.0%} | " + " | ".join(cells) + " |")
    if {"lru", "s3fifo", "fill", "belady"} <= set(strategies):
        egress(study)
    if {"fill", "belady"} <= set(strategies) and 0.2 in capacities:
        targets(study)
    first = next(iter(results.values()))[strategies[0], capacities[0]].requests
    print(
        f"\n{first:,} measured requests per {ALPHA}; wall {study.wall:.0f} s, CPU {study.cpu:.0f} s"
    )


def egress(study: Study) -> None:
    results = study.results
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
        for frac in study.capacities:
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


def targets(study: Study) -> None:
    results, ideal = study.results, study.ideal
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


def plot(studies: list[Study], path: Path) -> None:
    import matplotlib  # noqa: PLC0415 - only the plot needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    cols = max(len(st.results) for st in studies)
    fig, grid = plt.subplots(
        len(studies), cols, figsize=(6 * cols, 4.6 * len(studies)), sharey=True, squeeze=False
    )
    for axes, st in zip(grid, studies, strict=True):
        w, caps = st.workload, st.capacities
        xs = [100 * f for f in caps]
        for ax, (alpha, res) in zip(axes, st.results.items(), strict=False):
            for s in st.strategies:
                ys = [100 * res[s, f].byte_hit_ratio for f in caps]
                ax.plot(xs, ys, "--" if s == "belady" else "-", marker="o", label=LABELS[s])
            ys = [100 * res["infinite", f].byte_hit_ratio for f in caps]
            ax.plot(xs, ys, "-.", color="grey", label="Infinite cache (first requests miss)")
            ys = [100 * st.ideal[alpha][f] for f in caps]
            ax.plot(xs, ys, ":", color="black", label="Ideal static placement")
            ax.axhline(90, color="grey", linewidth=0.8, linestyle=":")
            ax.set_title(
                f"workload {w.workload}, Zipf {ALPHA} = {alpha}\n{w.titles} titles + "
                f"{w.new_per_day}/day (scale 1:{w.catalog_scale}), {len(w.region_shares)} "
                f"regions, {w.plays_per_day} plays/day, days 1-{w.days - 1}",
                fontsize=10,
            )
            ax.set_xlabel("cluster capacity (% of catalog bytes)")
            ax.set_xticks(xs)
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("byte hit ratio (%)")
    grid[0][0].legend(loc="lower right", fontsize=8)
    fig.suptitle("Edge byte hit ratio by strategy and capacity")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def run_study(
    base: Workload,
    alphas: list[float],
    fill_fraction: float,
    jobs: int,
    *,
    strategies: tuple[str, ...] = STRATEGIES,
    capacities: tuple[float, ...] = CAPACITIES,
) -> Study:
    started, cpu0, child0 = time.perf_counter(), time.process_time(), sum(os.times()[2:4])
    regions = sorted(range(len(base.region_shares)), key=lambda r: -base.region_shares[r])
    tasks: list[Task] = [
        (replace(base, alpha=x), r, fill_fraction, strategies, capacities)
        for x in alphas
        for r in regions
    ]
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        parts = pool.map_async(run_region, tasks, chunksize=1)
        catalog = make_catalog(base)
        ideal = {
            x: fluid_bound(w, catalog, daily_weights(w, catalog))
            for x in alphas
            for w in [replace(base, alpha=x)]
        }
        done = parts.get()
    results: Results = {}
    for (w, *_), part in zip(tasks, done, strict=True):
        res = results.setdefault(w.alpha, {})
        for k, tally in part.items():
            res[k] = res[k] + tally if k in res else tally
    cpu = time.process_time() - cpu0 + sum(os.times()[2:4]) - child0
    wall = time.perf_counter() - started
    return Study(base, results, ideal, wall, cpu, strategies, capacities)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workload", nargs="+", choices=WORKLOADS, default=["broadband"])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--titles", type=int, default=Workload.titles)
    p.add_argument("--new-per-day", type=int, default=Workload.new_per_day)
    p.add_argument("--days", type=int, default=Workload.days)
    p.add_argument("--plays-per-day", type=int, default=Workload.plays_per_day)
    p.add_argument(
        "--catalog-scale", type=int, help="real titles per simulated title (default: by workload)"
    )
    p.add_argument("--alphas", type=float, nargs="+", default=[0.8, 1.0])
    p.add_argument("--fill-fraction", type=float, default=0.8, help="share of capacity filled")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--png", type=Path, default=DOCS / "cdn-hit-ratio.png")
    p.add_argument(
        "--strategies", nargs="+", choices=STRATEGIES, default=list(STRATEGIES),
        help="strategies to replay (the infinite cache and ideal placement always are)",
    )  # fmt: skip
    p.add_argument(
        "--capacities", type=float, nargs="+", default=list(CAPACITIES),
        help="capacities as shares of the catalog's bytes (ideal placement: 0.05 0.1 0.2 only)",
    )  # fmt: skip
    p.add_argument("--json", type=Path, help="also write the hit ratios here (one file per run)")
    a = p.parse_args()
    strategies = tuple(s for s in STRATEGIES if s in a.strategies)
    capacities = tuple(sorted(a.capacities))
    if not set(capacities) <= set(CAPACITIES):
        p.error(f"--capacities: choose among {' '.join(map(str, CAPACITIES))}")
    studies = []
    for name in a.workload:
        base = Workload(
            seed=a.seed, titles=a.titles, new_per_day=a.new_per_day, days=a.days,
            plays_per_day=a.plays_per_day, workload=name,
            catalog_scale=a.catalog_scale or CATALOG_SCALE[name],
        )  # fmt: skip
        catalog = make_catalog(base)
        print(
            f"\n## Workload `{name}`\n\ncatalog: {base.total_titles} titles ({base.titles} + "
            f"{base.new_per_day}/day), {catalog.sizes.size:,} files, "
            f"{catalog.sizes.sum() / 1e12:.2f} TB; {len(base.region_shares)} regions; "
            f"{base.plays_per_day} plays/day; catalog scale 1:{base.catalog_scale}; "
            f"seed {base.seed}"
        )
        describe(base, catalog, a.alphas)
        study = run_study(
            base, a.alphas, a.fill_fraction, a.jobs, strategies=strategies, capacities=capacities
        )
        report(study)
        studies.append(study)
    if a.json:
        a.json.write_text(json.dumps([st.to_json() for st in studies], indent=1))
    plot(studies, a.png)
    print(f"\nplot: {a.png}")


if __name__ == "__main__":
    main()
