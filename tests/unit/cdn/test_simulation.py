"""The trace replayer: accounting, Belady's rule, and proactive fill."""

from __future__ import annotations

import pytest

from matinee.cdn import LRU, S3FIFO
from matinee.cdn.simulation import (
    NEVER,
    Tally,
    Trace,
    next_uses,
    replay,
    replay_belady,
    replay_with_fill,
)


def _trace(spec: str, sizes: dict[str, int] | None = None, measure_from: int = 0) -> Trace[str]:
    keys = list(spec)
    return Trace(keys, [(sizes or {}).get(k, 1) for k in keys], measure_from)


def test_replay_counts_only_the_measured_part() -> None:
    trace = _trace("abab", {"a": 3, "b": 5}, measure_from=1)
    tally = replay(trace, LRU(10))
    assert tally == Tally(requests=3, hits=2, requested_bytes=13, hit_bytes=8)
    assert tally.byte_hit_ratio == pytest.approx(8 / 13)
    assert tally.hit_ratio == pytest.approx(2 / 3)
    assert tally.miss_bytes == 5
    assert tally.upstream_bytes == 5


def test_next_uses() -> None:
    assert list(next_uses(list("abacb"))) == [2, 4, NEVER, NEVER, NEVER]


def test_belady_keeps_what_is_needed_soonest() -> None:
    # Capacity 2: LRU evicts a for c and then misses on a; Belady skips c (never reused).
    trace = _trace("abcba")
    assert replay(trace, LRU(2)).hits == 1
    tally = replay_belady(trace, 2)
    assert tally.hits == 2


def test_belady_bypasses_an_object_needed_last() -> None:
    # At c, the furthest next request is c's own: it is not admitted, a and b stay.
    tally = replay_belady(_trace("abcabc"), 2)
    assert tally.hits == 2
    assert tally.requested_bytes == 6


def test_belady_is_byte_aware() -> None:
    sizes = {"a": 6, "b": 4, "c": 5, "d": 4}
    # c (5 bytes) would force a or b out; its next request is furthest: it is bypassed.
    tally = replay_belady(_trace("abcabdc", sizes), 10)
    assert tally.hit_bytes == 10
    # With c needed first, a (furthest) goes, and b stays.
    tally = replay_belady(_trace("abcbca", sizes), 10)
    assert tally.hits == 2
    assert tally.hit_bytes == 9


def test_belady_bound_beats_online_policies_on_a_loop() -> None:
    trace = _trace("abcd" * 10)
    assert replay(trace, LRU(3)).hits == 0
    assert replay_belady(trace, 3).hits > 20


def test_fill_pins_the_planned_files_and_counts_fill_traffic() -> None:
    calls: list[int] = []

    def planner(index: int) -> dict[str, int]:
        calls.append(index)
        return {"x": 4} if index == 0 else {"y": 4}

    trace = Trace(list("abxcxdyy"), [3, 3, 4, 3, 4, 3, 4, 4], measure_from=0)
    tally = replay_with_fill(trace, S3FIFO(8), [0, 5], planner)
    assert calls == [0, 5]
    # x is pinned before it is requested, y at index 5: all four are hits.
    assert tally.hits == 4
    assert tally.hit_bytes == 16
    assert tally.fill_bytes == 8
    assert tally.first_fill_bytes == 4
    assert tally.upstream_bytes == tally.miss_bytes + 8


def test_fill_before_measurement_is_not_counted_and_unpinned_files_stay() -> None:
    policy: LRU[str] = LRU(10)
    trace = Trace(list("abcx"), [2, 2, 2, 4], measure_from=2)
    plans = {0: {"x": 4}, 2: {}}
    tally = replay_with_fill(trace, policy, [0, 2], lambda i: plans[i])
    assert tally.fill_bytes == 0
    assert tally.first_fill_bytes == 4
    assert tally.hits == 1  # x was unpinned at 2 but is still cached
    assert policy.pinned_bytes == 0


def test_misses_that_do_not_fit_beside_pinned_content_are_served_uncached() -> None:
    policy: LRU[str] = LRU(10)
    trace = Trace(list("aa"), [5, 5])
    tally = replay_with_fill(trace, policy, [0], lambda i: {"p": 8})
    assert tally.hits == 0
    assert "a" not in policy


def test_trace_validation() -> None:
    with pytest.raises(ValueError, match="one size per key"):
        Trace(["a"], [])
    with pytest.raises(ValueError, match="measure_from"):
        Trace(["a"], [1], measure_from=2)
    assert (Tally(1, 1, 2, 2) + Tally(1, 0, 2, 0)).byte_hit_ratio == 0.5
    assert Tally().byte_hit_ratio == 0.0
    assert Tally().hit_ratio == 0.0
