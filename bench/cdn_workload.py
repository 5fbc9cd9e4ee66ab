"""Workloads of the CDN cache study: how far a play goes into a title and at which rung.

The study draws each day's plays (title, start time) from Zipf popularity. A workload turns
them into sessions (title, first segment, segment count, start time; a view watched in two
sittings gives two sessions), picks each session's steady rung, and the rung of every segment.

``broadband`` (the default) is derived from published figures; the numbers marked
"assumption" have no direct source and are kept conservative:

- Screens: 70% of Netflix viewing is on TVs, 15% on computers, 10% on phones, 5% on tablets
  (Netflix press briefing, March 2018: Recode/Vox 2018-03-07, Benzinga 2018-03-17).
- Throughput of a session on fixed broadband: lognormal, median 30 Mb/s, sigma 1.0. Lines are
  faster (Ookla's global median fixed download was 94 Mb/s in August 2024; Ofcom measured a
  64 Mbit/s UK average in 2019, 75% of lines on 30+ Mbit/s packages), but a stream gets less
  than its line (Wi-Fi, other users, the evening peak): the median and spread are an
  assumption, chosen so that 1 session in 6 cannot hold the 7.8 Mb/s top rung.
- Phones: 40% of phone plays on a mobile network (assumption; Sandvine put Netflix at 2.4% of
  mobile downstream traffic against ~15% of all traffic in 2019), where Netflix's default
  cellular setting streams about 600 kb/s (3 hours per GB); a phone uses 720p at most
  (assumption, the player caps the rung to its size).
- The player: the highest rung whose bitrate is at most 0.7 x the throughput (hls.js's
  ``abrBandWidthUpFactor``; Shaka Player, on matinee's page, upgrades at 0.85, so 0.7 is the
  cautious choice), after a start-up ramp from the 500 kb/s default estimate of both players,
  three rungs per segment (assumption); 5% of steady segments dip one rung (assumption).
  Netflix's ISP Speed Index notes that sessions on good networks get close to their maximum
  possible bitrate.
- How far: 20% of plays sample the title and leave within minutes (exponential, mean 2 min,
  assumption; the exponential-then-power-law shape is from Chen et al., "Measurement and
  modeling of video watching time in a large-scale Internet VoD system", IEEE TMM 2013). Of
  plays past 2 minutes, 74% reach 70% of the title (Netflix's 2-minute "view" counts ~35% more
  than its former 70% one, Q4 2019) and stop in the closing credits (92-100%); the rest stop
  log-uniformly between 2 minutes and 70%. 30% of views longer than an hour are watched in two
  sittings (assumption), the second from where the first stopped, a few hours later, possibly
  on another screen (Netflix 2016: phone viewing peaks an hour after TV viewing).

``spread`` is the first study's workload, kept for comparison: 65% TV / 10% computer / 25%
phone with fixed rung mixes (42% of plays at the top rung), a two-segment start-up, 30% of
plays resuming at a uniform point, 20% stopping in the first tenth of the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np
from numpy.typing import NDArray

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Sessions:
    """Parallel arrays, one entry per session."""

    title: I64
    first: I64  # first segment
    length: I64  # segments
    start: F64  # seconds


class Audience(Protocol):
    name: str

    def sessions(
        self, rng: np.random.Generator, title: I64, start: F64, segments: I64
    ) -> Sessions: ...

    def targets(self, rng: np.random.Generator, count: int) -> I64:
        """The steady rung of each of ``count`` sessions."""
        ...

    def rungs(self, rng: np.random.Generator, target: I64, step: I64) -> I64:
        """The rung of each request, given its session's target and its step in the session."""
        ...


class Spread:
    """The first study's workload (see the module docstring)."""

    name = "spread"
    devices: ClassVar[
        dict[str, tuple[float, list[float]]]
    ] = {  # share of plays, then the chance of each rung, lowest first
        "tv": (0.65, [0, 0, 0, 0, 0, 0.05, 0.10, 0.25, 0.60]),
        "computer": (0.10, [0, 0, 0, 0, 0, 0.15, 0.25, 0.30, 0.30]),
        "phone": (0.25, [0, 0, 0.10, 0.20, 0.50, 0.20, 0, 0, 0]),
    }

    def __init__(self, rungs: int = 9) -> None:
        mix = np.stack([s * np.array(m) for s, m in self.devices.values()]).sum(axis=0)
        if mix.size != rungs:
            raise ValueError("the spread workload is defined for a 9-rung ladder")
        self.mix: F64 = mix

    def sessions(self, rng: np.random.Generator, title: I64, start: F64, segments: I64) -> Sessions:
        nseg = segments[title]
        plays = nseg.size
        resume = rng.random(plays) < 0.3
        first = np.where(resume, (rng.uniform(0.05, 0.85, plays) * nseg).astype(np.int64), 0)
        u = rng.random(plays)
        watch = np.where(u < 0.2, rng.uniform(0, 0.1, plays), rng.uniform(0.1, 1.0, plays))
        watch = np.where(u > 0.55, 1.0, watch)
        length = np.maximum(1, np.round(watch * (nseg - first))).astype(np.int64)
        return Sessions(title, first, length, start)

    def targets(self, rng: np.random.Generator, count: int) -> I64:
        return rng.choice(self.mix.size, count, p=self.mix).astype(np.int64)

    def rungs(self, rng: np.random.Generator, target: I64, step: I64) -> I64:
        ramp = np.where(step == 1, np.minimum(target, 4), target)
        out: I64 = np.where(step == 0, np.minimum(target, 2), ramp)
        return out


@dataclass(frozen=True)
class Screen:
    name: str
    share: float  # of plays
    max_rung: int  # the highest rung it uses, as an index into the ladder
    cellular: float  # share of its plays on a mobile network


class Broadband:
    """Rungs from screens, throughput and the player's rule; viewing from published shapes."""

    name = "broadband"

    def __init__(
        self,
        bitrates: F64,
        segment_seconds: float,
        *,
        screens: tuple[Screen, ...] | None = None,
        median_mbps: float = 30.0,
        sigma: float = 1.0,
        cellular_kbps: float = 750.0,
        up_factor: float = 0.7,
        start_kbps: float = 500.0,
        climb: int = 3,
        dip: float = 0.05,
        sampler_share: float = 0.2,
        sampler_mean: float = 120.0,
        reach_70: float = 0.74,
        split_share: float = 0.3,
        split_after: float = 3600.0,
        resume_gap: float = 3 * 3600.0,
    ) -> None:
        top = bitrates.size - 1
        self.bitrates = bitrates
        self.segment_seconds = segment_seconds
        self.screens = screens or (
            Screen("tv", 0.70, top, 0.0),
            Screen("computer", 0.15, top, 0.0),
            Screen("tablet", 0.05, top, 0.0),
            Screen("phone", 0.10, min(6, top), 0.4),
        )
        if not math.isclose(sum(s.share for s in self.screens), 1.0):
            raise ValueError("screen shares must add up to 1")
        self.median_bps, self.sigma = median_mbps * 1e6, sigma
        self.cellular_bps, self.up_factor = cellular_kbps * 1e3, up_factor
        self.start_rung = self.fit(np.array([start_kbps * 1e3]))[0]
        self.climb, self.dip = climb, dip
        self.sampler_share, self.sampler_mean = sampler_share, sampler_mean
        # Netflix's figure counts plays past 2 minutes, some samplers included: solve for the
        # share of committed plays that reach 70% so that the figure holds over both groups.
        past_two = sampler_share * math.exp(-120.0 / sampler_mean)
        self.reach = min(1.0, reach_70 * (1 - sampler_share + past_two) / (1 - sampler_share))
        self.split_share, self.split_after, self.resume_gap = split_share, split_after, resume_gap

    def fit(self, throughput: F64) -> I64:
        """The highest rung whose bitrate is at most up_factor x throughput (at least 0)."""
        fits = np.searchsorted(self.bitrates, self.up_factor * throughput, side="right") - 1
        return np.maximum(fits, 0).astype(np.int64)

    def extent(self, rng: np.random.Generator, nseg: I64) -> I64:
        """Segments watched by each view of a title with ``nseg`` segments, from the start."""
        n = nseg.size
        seg = self.segment_seconds
        two = np.minimum(120.0 / seg / nseg, 0.7)  # 2 minutes, as a fraction of the title
        kind = rng.random(n)
        sampled = rng.exponential(self.sampler_mean / seg, n) / nseg
        reached = rng.uniform(0.92, 1.0, n)
        stopped = two * np.exp(rng.random(n) * np.log(0.7 / two))  # log-uniform, 2 min..70%
        committed = np.where(rng.random(n) < self.reach, reached, stopped)
        frac = np.where(kind < self.sampler_share, np.minimum(sampled, 1.0), committed)
        return np.clip(np.ceil(frac * nseg), 1, nseg).astype(np.int64)

    def sessions(self, rng: np.random.Generator, title: I64, start: F64, segments: I64) -> Sessions:
        watched = self.extent(rng, segments[title])
        seg = self.segment_seconds
        split = (watched * seg > self.split_after) & (rng.random(watched.size) < self.split_share)
        cut = np.where(split, (watched * rng.uniform(0.2, 0.8, watched.size)).astype(np.int64), 0)
        first_len = np.where(split, cut, watched)
        resumed = np.flatnonzero(split)
        gap = rng.exponential(self.resume_gap, resumed.size)
        return Sessions(
            np.concatenate((title, title[resumed])),
            np.concatenate((np.zeros_like(watched), cut[resumed])),
            np.concatenate((first_len, watched[resumed] - cut[resumed])),
            np.concatenate((start, start[resumed] + cut[resumed] * seg + gap)),
        )

    def targets(self, rng: np.random.Generator, count: int) -> I64:
        shares = np.array([s.share for s in self.screens])
        screen = rng.choice(len(self.screens), count, p=shares)
        cap = np.array([s.max_rung for s in self.screens])[screen]
        cellular = rng.random(count) < np.array([s.cellular for s in self.screens])[screen]
        throughput = self.median_bps * np.exp(self.sigma * rng.standard_normal(count))
        cell_cap = np.searchsorted(self.bitrates, self.cellular_bps, side="right") - 1
        cap = np.where(cellular, np.minimum(cap, max(int(cell_cap), 0)), cap)
        out: I64 = np.minimum(self.fit(throughput), cap).astype(np.int64)
        return out

    def rungs(self, rng: np.random.Generator, target: I64, step: I64) -> I64:
        ramp = np.minimum(target, self.start_rung + self.climb * step)
        dipped = (rng.random(step.size) < self.dip) & (ramp == target)
        out: I64 = np.maximum(ramp - dipped, 0).astype(np.int64)
        return out


WORKLOADS = ("broadband", "spread")
# Real titles per simulated title (the study's --catalog-scale): 200 simulated titles stand for
# a catalog of 6,000, about Netflix US's (5,817 titles in March 2020, 6,621 in July 2023, What's
# on Netflix). The spread workload keeps the first study's 1.
CATALOG_SCALE = {"broadband": 30, "spread": 1}


def make_audience(name: str, bitrates: F64, segment_seconds: float) -> Audience:
    if name == "broadband":
        return Broadband(bitrates, segment_seconds)
    if name == "spread":
        return Spread(bitrates.size)
    raise ValueError(f"unknown workload {name!r}; use one of {', '.join(WORKLOADS)}")


def request_profile(
    audience: Audience, rng: np.random.Generator, *, rungs: int, bins: int, plays: int = 40_000
) -> F64:
    """profile[rung, bin]: the chance that one play requests a given segment of that rung in
    that position bin, on a 1000-segment title (about the catalog's mean length)."""
    nseg = 1000
    s = audience.sessions(
        rng, np.zeros(plays, np.int64), np.zeros(plays), np.array([nseg], np.int64)
    )
    target = audience.targets(rng, s.length.size)
    play = np.repeat(np.arange(s.length.size), s.length)
    step = np.arange(play.size) - np.repeat(np.cumsum(s.length) - s.length, s.length)
    rung = audience.rungs(rng, target[play], step)
    pos_bin = (s.first[play] + step) * bins // nseg
    counts = np.bincount(rung * bins + pos_bin, minlength=rungs * bins).astype(np.float64)
    return counts.reshape(rungs, bins) / (plays * nseg / bins)
