"""Replaying request traces against cache strategies, for the cache study.

A :class:`Trace` is one cluster's requests in time order: keys and sizes in parallel sequences,
and the index where measurement starts (requests before it only warm the cache). Strategies:

- :func:`replay`: pull-through with an eviction policy (every miss is fetched and admitted);
- :func:`replay_with_fill`: the same, plus proactive fill at given points of the trace. A
  planner is called with the index reached, so it can only see the requests before it; the
  files it returns are pinned (fetched first if absent, counted as fill bytes) and the previous
  plan's files are unpinned;
- :func:`replay_belady`: Belady's offline rule made byte-aware: admit on a miss, then evict the
  objects whose next request is furthest in the future until the cache fits (the new object
  itself included, so it may be bypassed). With equal sizes this maximises object hits; with
  varied sizes the exact optimum is NP-hard and this is the standard practical reference, not a
  proven bound on byte hit ratio. It fetches on demand only, so a strategy that pre-fetches
  (proactive fill) can beat it.
"""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice, pairwise
from typing import Generic, TypeVar

from matinee.cdn.errors import CacheFull
from matinee.cdn.eviction import CacheIndex

K = TypeVar("K", bound=Hashable)
NEVER = 2**62  # "no next request"


@dataclass(frozen=True)
class Trace(Generic[K]):
    keys: Sequence[K]
    sizes: Sequence[int]
    measure_from: int = 0

    def __post_init__(self) -> None:
        if len(self.keys) != len(self.sizes):
            raise ValueError("a trace needs one size per key")
        if not 0 <= self.measure_from <= len(self.keys):
            raise ValueError("measure_from must index into the trace")


@dataclass
class Tally:
    """What a replay measured (requests from ``measure_from`` on) and what it fetched."""

    requests: int = 0
    hits: int = 0
    requested_bytes: int = 0
    hit_bytes: int = 0
    fill_bytes: int = 0  # fetched by fills at or after measure_from
    first_fill_bytes: int = 0  # fetched by the first fill (the initial load), wherever it was

    @property
    def byte_hit_ratio(self) -> float:
        return self.hit_bytes / self.requested_bytes if self.requested_bytes else 0.0

    @property
    def hit_ratio(self) -> float:
        return self.hits / self.requests if self.requests else 0.0

    @property
    def miss_bytes(self) -> int:
        return self.requested_bytes - self.hit_bytes

    @property
    def upstream_bytes(self) -> int:
        """Bytes fetched from upstream: misses plus fill."""
        return self.miss_bytes + self.fill_bytes

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.requests + other.requests,
            self.hits + other.hits,
            self.requested_bytes + other.requested_bytes,
            self.hit_bytes + other.hit_bytes,
            self.fill_bytes + other.fill_bytes,
            self.first_fill_bytes + other.first_fill_bytes,
        )


def _measured(trace: Trace[K]) -> Tally:
    m = trace.measure_from
    return Tally(requests=len(trace.keys) - m, requested_bytes=sum(islice(trace.sizes, m, None)))


def _pull(
    policy: CacheIndex[K], keys: Sequence[K], sizes: Sequence[int], lo: int, hi: int
) -> tuple[int, int]:
    """Replay keys[lo:hi] pull-through; return (hits, hit bytes)."""
    access, insert = policy.access, policy.insert
    hits = hit_bytes = 0
    for key, size in zip(islice(keys, lo, hi), islice(sizes, lo, hi), strict=True):
        if access(key):
            hits += 1
            hit_bytes += size
        else:
            try:  # noqa: SIM105 - contextlib.suppress costs a context manager per miss
                insert(key, size)
            except CacheFull:  # pinned content leaves no room: served without caching
                pass
    return hits, hit_bytes


def replay(trace: Trace[K], policy: CacheIndex[K]) -> Tally:
    """Pull-through caching: every miss is fetched and admitted by ``policy``."""
    tally = _measured(trace)
    m, n = trace.measure_from, len(trace.keys)
    _pull(policy, trace.keys, trace.sizes, 0, m)
    tally.hits, tally.hit_bytes = _pull(policy, trace.keys, trace.sizes, m, n)
    return tally


Planner = Callable[[int], Mapping[K, int]]


def replay_with_fill(
    trace: Trace[K], policy: CacheIndex[K], fill_at: Sequence[int], planner: Planner[K]
) -> Tally:
    """Pull-through plus proactive fill: at each index in ``fill_at`` (ascending), before that
    request, ``planner(index)`` names the files (key -> size) to hold pinned until the next
    fill. Fill bytes are counted from ``measure_from`` on."""
    tally = _measured(trace)
    keys, sizes, m = trace.keys, trace.sizes, trace.measure_from
    bounds = sorted({0, len(keys), *(i for i in fill_at if 0 <= i <= len(keys))})
    pinned: set[K] = set()
    for lo, hi in pairwise(bounds):
        if lo in fill_at:
            fetched = _apply_fill(policy, planner(lo), pinned)
            if lo == fill_at[0]:
                tally.first_fill_bytes = fetched
            if lo >= m:
                tally.fill_bytes += fetched
        for a, b in ((lo, min(hi, m)), (max(lo, m), hi)):
            if a < b:
                hits, hit_bytes = _pull(policy, keys, sizes, a, b)
                if a >= m:
                    tally.hits += hits
                    tally.hit_bytes += hit_bytes
    return tally


def _apply_fill(policy: CacheIndex[K], plan: Mapping[K, int], pinned: set[K]) -> int:
    """Unpin what left the plan, pin what is in it; return the bytes fetched for the fill."""
    for key in pinned - plan.keys():
        policy.unpin(key)
    fetched = 0
    for key, size in plan.items():
        if key in policy:
            policy.pin(key)
        else:
            policy.insert(key, size, pinned=True)
            fetched += size
    pinned.clear()
    pinned.update(plan.keys())
    return fetched


def next_uses(keys: Sequence[K]) -> array[int]:
    """For each request, the index of the next request for the same key (NEVER if none)."""
    out = array("q", [NEVER]) * len(keys)
    last: dict[K, int] = {}
    for i in range(len(keys) - 1, -1, -1):
        key = keys[i]
        out[i] = last.get(key, NEVER)
        last[key] = i
    return out


def replay_belady(trace: Trace[K], capacity: int, nexts: Sequence[int] | None = None) -> Tally:
    """Belady's furthest-next-request rule under a byte capacity (see the module docstring).
    ``nexts`` may be passed when computed elsewhere (it must equal :func:`next_uses`)."""
    tally = _measured(trace)
    keys, sizes, m = trace.keys, trace.sizes, trace.measure_from
    nxt = next_uses(keys) if nexts is None else nexts
    held: dict[K, int] = {}  # key -> its next request index
    held_size: dict[K, int] = {}
    heap: list[tuple[int, K]] = []  # (-next request, key); stale entries are skipped
    push, pop = heapq.heappush, heapq.heappop
    used = hits = hit_bytes = 0
    for i, (key, size, nu) in enumerate(zip(keys, sizes, nxt, strict=True)):
        if key in held:
            if i >= m:
                hits += 1
                hit_bytes += size
            if nu == NEVER:  # never requested again: free its space now
                del held[key]
                used -= held_size.pop(key)
                continue
            held[key] = nu
            push(heap, (-nu, key))
        else:
            if nu == NEVER or size > capacity:
                continue
            held[key] = nu
            held_size[key] = size
            used += size
            push(heap, (-nu, key))
            while used > capacity:
                neg, victim = pop(heap)
                if held.get(victim) == -neg:
                    del held[victim]
                    used -= held_size.pop(victim)
        if len(heap) > 2 * len(held) + 1024:  # drop stale entries, amortized O(1)
            heap = [(-v, k) for k, v in held.items()]
            heapq.heapify(heap)
    tally.hits, tally.hit_bytes = hits, hit_bytes
    return tally
