"""Traces of the CDN cache study: the synthetic catalog, daily popularity per region, and the
segment requests each region's edge cluster receives (``cdn_cache_study.py`` replays them).

A catalog of episodes and films, each cut into 4 s segments for every rung of matinee's default
ladder, is watched for several days in several regions. Each day every region's plays follow
Zipf(alpha) over its own popularity order: a global order, a fixed regional offset per title
(some titles are local to one region), a daily random drift, and new titles arriving with a
launch boost that fades. A workload (``cdn_workload.py``) turns plays into sessions and picks
the rung of every segment.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass

import numpy as np
from cdn_workload import Audience, make_audience, request_profile
from numpy.typing import NDArray

from matinee.cdn.popularity import Rendition, TitleMedia
from matinee.cdn.simulation import NEVER, Tally, Trace
from matinee.media.ladder import DEFAULT_LADDER

DAY = 86_400.0
CAPACITIES = (0.05, 0.10, 0.20)
RUNGS = [r.name for r in DEFAULT_LADDER.rungs]
BITRATES = np.array([r.bitrate_kbps * 1000 for r in DEFAULT_LADDER.rungs], dtype=np.float64)
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
    workload: str = "broadband"  # see cdn_workload.py
    catalog_scale: int = 1  # real titles per simulated title (see daily_weights)

    def audience(self) -> Audience:
        return make_audience(self.workload, BITRATES, self.segment_seconds)

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
    """weights[region, day, title]: each region's Zipf(alpha) over its order of the day. With
    ``catalog_scale`` B > 1 the catalog is a 1:B scale model: each title is a stratum of B real
    titles of adjacent rank, so demand concentrates over a share of the catalog as it does in a
    catalog B times larger (the audience, in hours watched per catalog hour, is unchanged)."""
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
    zipf = strata(n, w.alpha, w.catalog_scale)
    for d in range(w.days):
        age_days = (d * DAY - catalog.published) / DAY
        live = age_days >= 0
        boost = boost_height * np.exp(-np.clip(age_days, 0, None) / w.launch_days)
        for r in range(regions):
            score = np.where(live, base + offset[r] + drift[r, d] + boost, -np.inf)
            ranks = np.empty(n, dtype=np.int64)
            ranks[np.argsort(-score, kind="stable")] = np.arange(1, n + 1)
            weights[r, d] = np.where(live, zipf[ranks - 1], 0.0)
            weights[r, d] /= weights[r, d].sum()
    return weights


def strata(n: int, alpha: float, scale: int) -> NDArray[np.float64]:
    """Zipf(alpha) weight of each of ``n`` ranks when each stands for ``scale`` real titles of
    adjacent rank: rank i gets the summed weight of real ranks (i-1)*scale+1 .. i*scale."""
    real = np.arange(1, n * scale + 1, dtype=np.float64) ** (-alpha)
    out: NDArray[np.float64] = real.reshape(n, scale).sum(axis=1)
    return out


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


def fluid_bound(w: Workload, catalog: Catalog, weights: NDArray[np.float64]) -> dict[float, float]:
    """Byte hit ratio of the ideal static placement with an infinite audience: every (title,
    rung, position bin) unit ranked by its expected requests, knowing each day's true
    popularity. No placement fixed for a day does better in expectation; a finite audience makes
    realised demand lumpier than expected, and a dynamic cache can reuse space within a day, so
    Belady, which also knows the exact future, can exceed it."""
    rng = np.random.default_rng([w.seed, 4])
    profile = request_profile(w.audience(), rng, rungs=len(RUNGS), bins=BINS)
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
            density = (weights[r, d][:, None, None] * profile).ravel()
            order = np.argsort(-density, kind="stable")
            held = np.cumsum(unit_bytes[order])
            demand = np.cumsum((density * unit_bytes)[order])
            for frac in CAPACITIES:
                k = int(np.searchsorted(held, frac * held[-1], side="right"))
                out[frac] += share * demand[k - 1] / demand[-1] / (w.days - 1)
    return out


def make_trace(w: Workload, catalog: Catalog, weights: NDArray[np.float64], r: int) -> RegionTrace:
    rng = np.random.default_rng([w.seed, 3, r])
    hours = diurnal()
    titles, starts = [], []
    for d in range(w.days):
        count = round(w.plays_per_day * w.region_shares[r])
        titles.append(rng.choice(w.total_titles, count, p=weights[r, d]))
        starts.append(d * DAY + 3600 * (rng.choice(24, count, p=hours) + rng.random(count)))
    audience = w.audience()
    s = audience.sessions(rng, np.concatenate(titles), np.concatenate(starts), catalog.segments)
    keep = s.start < w.days * DAY  # a second sitting after the last day is not replayed
    title, first, length, start = s.title[keep], s.first[keep], s.length[keep], s.start[keep]
    target = audience.targets(rng, title.size)

    play = np.repeat(np.arange(title.size), length)
    step = np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
    rung = audience.rungs(rng, target[play], step)
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


def infinite_cache(trace: Trace[int], nexts: array[int]) -> Tally:
    """An unbounded cache: only the first request for each file misses (warm-up included)."""
    m = trace.measure_from
    nxt = np.frombuffer(nexts, dtype=np.int64)
    sizes = np.frombuffer(trace.sizes, dtype=np.int64)  # type: ignore[call-overload]
    seen = np.zeros(nxt.size, dtype=bool)
    seen[nxt[nxt != NEVER]] = True
    return Tally(
        requests=nxt.size - m,
        hits=int(seen[m:].sum()),
        requested_bytes=int(sizes[m:].sum()),
        hit_bytes=int(sizes[m:][seen[m:]].sum()),
    )


def diurnal() -> NDArray[np.float64]:
    """Share of a day's plays starting in each hour (the day starts at 04:00)."""
    hours = 0.15 + np.exp(-(((np.arange(24) - 17.0) / 2.5) ** 2) / 2)
    out: NDArray[np.float64] = hours / hours.sum()
    return out
