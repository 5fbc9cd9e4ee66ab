"""Per-region popularity prediction, and the fill plan it produces.

:class:`PopularityModel` counts recent plays per region and title with exponential decay (one
half-life), read against an injected clock. A newness prior from the catalog gives a title
released recently (or about to be released, within the fill window) a floor: a fraction of the
plays that the region's ``newness_rank``-th title has, halving every ``newness_half_life``. A
title's score is the larger of its decayed plays and its prior, so a new title is filled before
anyone has watched it, and once it has real plays the data decides.

:class:`FillPlanner` turns scores into files. A title's files are every rendition's segments.
They are grouped into units (title, rendition, position bin). A unit's value is the expected
requests for one of its segments: title score x the rendition's share of requests x how often a
segment at that position is requested (:class:`DemandShape`, learned from recent requests).
Units are taken by value until the byte budget is spent, so popular titles' heads and top
renditions come first. Units in the previous plan get a ``stickiness`` bonus, so the fill set
stays stable from one window to the next and fill traffic stays low.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from matinee.clock import Clock

K = TypeVar("K", bound=Hashable)
Unit = tuple[str, str, int]  # (title id, rendition name, position bin)


class PopularityModel:
    """Exponentially decayed play counts per (region, title), plus a newness prior."""

    def __init__(
        self,
        clock: Clock,
        *,
        half_life: float = 86_400.0,
        newness_half_life: float = 3 * 86_400.0,
        newness_rank: int = 10,
        newness_weight: float = 1.0,
        lookahead: float = 86_400.0,
    ) -> None:
        if half_life <= 0 or newness_half_life <= 0 or newness_rank < 1 or lookahead < 0:
            raise ValueError("half-lives must be positive, newness_rank at least 1")
        self._clock = clock
        self._half_life = half_life
        self._newness_half_life = newness_half_life
        self._newness_rank = newness_rank
        self._newness_weight = newness_weight
        self._lookahead = lookahead
        self._counts: dict[str, dict[str, tuple[float, float]]] = {}  # value as of a stamp

    def record_play(
        self, region: str, title_id: str, *, at: float | None = None, weight: float = 1.0
    ) -> None:
        """Count one play (``weight`` plays) of ``title_id`` in ``region`` at time ``at``."""
        when = self._clock.time() if at is None else at
        titles = self._counts.setdefault(region, {})
        old = titles.get(title_id)
        if old is None:
            titles[title_id] = (weight, when)
            return
        value, stamp = old
        if when >= stamp:
            titles[title_id] = (value * self._decay(when - stamp) + weight, when)
        else:
            titles[title_id] = (value + weight * self._decay(stamp - when), stamp)

    def plays(self, region: str) -> dict[str, float]:
        """Decayed play counts of every title seen in ``region``, as of now."""
        now = self._clock.time()
        return {
            title: value * self._decay(now - stamp) if now > stamp else value
            for title, (value, stamp) in self._counts.get(region, {}).items()
        }

    def scores(self, region: str, published: Mapping[str, float]) -> dict[str, float]:
        """Score of every title in ``published`` (title id -> release time) that is available
        now or within the lookahead; titles outside it are left out."""
        now = self._clock.time()
        observed = self.plays(region)
        ranked = sorted(observed.values(), reverse=True)
        # The prior is relative to this region's volume: the plays of its newness_rank-th title.
        reference = ranked[min(self._newness_rank, len(ranked)) - 1] if ranked else 1.0
        prior_scale = self._newness_weight * reference
        out: dict[str, float] = {}
        for title, released in published.items():
            if released > now + self._lookahead:
                continue
            age = max(now - released, 0.0)
            prior = prior_scale * math.exp(-math.log(2) * age / self._newness_half_life)
            out[title] = max(observed.get(title, 0.0), prior)
        return out

    def rank(
        self, region: str, published: Mapping[str, float], limit: int | None = None
    ) -> list[tuple[str, float]]:
        """Titles by score, best first (ties by title id)."""
        items = sorted(self.scores(region, published).items(), key=lambda kv: (-kv[1], kv[0]))
        return items if limit is None else items[:limit]

    def _decay(self, seconds: float) -> float:
        return math.exp(-math.log(2) * seconds / self._half_life)


@dataclass(frozen=True)
class Rendition(Generic[K]):
    """One rendition of a title: its segment files in playback order, with sizes in bytes."""

    name: str
    keys: Sequence[K]
    sizes: Sequence[int]


@dataclass(frozen=True)
class TitleMedia(Generic[K]):
    title_id: str
    renditions: tuple[Rendition[K], ...]


@dataclass(frozen=True)
class DemandShape:
    """How requests spread over one title: per rendition, and per position (fraction of the
    title, in equal bins). Both are relative weights."""

    rendition_share: Mapping[str, float]
    position_weight: tuple[float, ...]
    default_share: float = 1e-3

    @classmethod
    def from_counts(
        cls, rendition_requests: Mapping[str, float], position_requests: Sequence[float]
    ) -> DemandShape:
        """From segment request counts per rendition and per position bin."""
        total = sum(rendition_requests.values())
        top = max(position_requests, default=0.0)
        if total <= 0 or top <= 0:
            raise ValueError("need at least one request to learn a demand shape")
        share = {name: n / total for name, n in rendition_requests.items()}
        weights = tuple(max(n / top, 1e-3) for n in position_requests)
        return cls(share, weights, default_share=min(1e-3, 0.5 / total))

    @classmethod
    def uniform(cls, renditions: Iterable[str], bins: int = 20) -> DemandShape:
        names = list(renditions)
        return cls({n: 1 / len(names) for n in names}, (1.0,) * bins)

    def share(self, rendition: str) -> float:
        return self.rendition_share.get(rendition, self.default_share)


@dataclass(frozen=True)
class FillPlan(Generic[K]):
    """Files to hold pinned, highest value first, and the units they came from."""

    files: dict[K, int]
    units: frozenset[Unit]
    bytes: int

    @classmethod
    def empty(cls) -> FillPlan[K]:
        return cls({}, frozenset(), 0)


@dataclass
class _UnitSpan(Generic[K]):
    unit: Unit
    rendition: Rendition[K]
    lo: int
    hi: int
    bytes: int = field(default=0)


class FillPlanner(Generic[K]):
    """Chooses the files to push to one cluster from title scores, up to a byte budget."""

    def __init__(self, media: Iterable[TitleMedia[K]] = (), *, bins: int = 20) -> None:
        if bins < 1:
            raise ValueError("bins must be at least 1")
        self._bins = bins
        self._spans: dict[str, list[_UnitSpan[K]]] = {}
        for title in media:
            self.add(title)

    @property
    def bins(self) -> int:
        return self._bins

    def add(self, title: TitleMedia[K]) -> None:
        """Register (or replace) a title's files."""
        spans: list[_UnitSpan[K]] = []
        for rendition in title.renditions:
            if len(rendition.keys) != len(rendition.sizes):
                raise ValueError(f"{title.title_id}/{rendition.name}: keys and sizes differ")
            n = len(rendition.keys)
            edges = [math.ceil(b * n / self._bins) for b in range(self._bins + 1)]
            for b in range(self._bins):
                lo, hi = edges[b], edges[b + 1]
                if hi > lo:
                    unit = (title.title_id, rendition.name, b)
                    size = sum(rendition.sizes[lo:hi])
                    spans.append(_UnitSpan(unit, rendition, lo, hi, size))
        self._spans[title.title_id] = spans

    def plan(
        self,
        scores: Mapping[str, float],
        budget: int,
        shape: DemandShape,
        *,
        previous: FillPlan[K] | None = None,
        stickiness: float = 0.25,
    ) -> FillPlan[K]:
        """The most valuable files that fit in ``budget`` bytes. Within a unit the head comes
        first; the last unit taken may be cut short."""
        if len(shape.position_weight) != self._bins:
            n = len(shape.position_weight)
            raise ValueError(f"the demand shape has {n} bins, the planner {self._bins}")
        held = previous.units if previous is not None else frozenset()
        weight = shape.position_weight
        shares: dict[str, float] = {}
        candidates: list[tuple[float, Unit, _UnitSpan[K]]] = []
        for title, score in scores.items():
            if score <= 0:
                continue
            for span in self._spans.get(title, ()):
                _, rendition, b = unit = span.unit
                share = shares.get(rendition)
                if share is None:
                    share = shares[rendition] = shape.share(rendition)
                value = score * share * weight[b]
                if unit in held:
                    value *= 1 + stickiness
                candidates.append((-value, unit, span))
        candidates.sort()  # by value, then unit; units are unique, so spans are never compared
        files: dict[K, int] = {}
        units: set[Unit] = set()
        spent = 0
        for _, unit, span in candidates:
            keys, sizes = span.rendition.keys, span.rendition.sizes
            if spent + span.bytes <= budget:
                files.update(zip(keys[span.lo : span.hi], sizes[span.lo : span.hi], strict=True))
                units.add(unit)
                spent += span.bytes
                continue
            for i in range(span.lo, span.hi):
                if spent + sizes[i] > budget:
                    break
                files[keys[i]] = sizes[i]
                spent += sizes[i]
            break
        return FillPlan(files, frozenset(units), spent)
