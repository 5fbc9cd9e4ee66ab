"""Eviction policies: hand-worked traces pin the exact behaviour of each algorithm."""

from __future__ import annotations

from collections.abc import Hashable

import pytest

from matinee.cdn import LRU, S3FIFO, SIEVE, CacheFull, EvictionPolicy, NotCached, make_policy
from matinee.cdn.eviction import CacheIndex


def test_lru_evicts_least_recently_used_until_the_new_object_fits() -> None:
    c: LRU[str] = LRU(10)
    assert c.insert("a", 4) == []
    assert c.insert("b", 3) == []
    assert c.insert("c", 3) == []
    assert c.access("a")
    # Order is b, c, a (oldest first). 4 more bytes need b (3) and then c (3) to go.
    assert c.insert("d", 4) == ["b", "c"]
    assert c.recency() == ["a", "d"]
    assert c.used_bytes == 8
    assert not c.access("b")


def test_sieve_hand_skips_visited_keys_without_moving_them() -> None:
    c: SIEVE[str] = SIEVE(4)
    for k in "ABCD":
        c.insert(k, 1)
    c.access("A")
    c.access("C")
    # The hand starts at the tail: A is visited (cleared, kept in place), B is evicted.
    assert c.insert("E", 1) == ["B"]
    assert c.queue() == [("A", False), ("C", True), ("D", False), ("E", False)]
    assert c.hand == "C"
    # From C: visited, cleared; D is evicted; the hand rests on E.
    assert c.insert("F", 1) == ["D"]
    assert c.hand == "E"
    assert c.insert("G", 1) == ["E"]
    assert c.queue() == [("A", False), ("C", False), ("F", False), ("G", False)]
    # LRU would evict A here; SIEVE's hand is past it and evicts F, the next unvisited key.
    c.access("A")
    assert c.insert("H", 1) == ["F"]


def test_sieve_hand_wraps_from_head_to_tail() -> None:
    c: SIEVE[str] = SIEVE(3)
    for k in "ABC":
        c.insert(k, 1)
    for k in "ABC":
        c.access(k)
    # Every key is visited: the hand clears A, B, C, wraps to the tail and evicts A.
    assert c.insert("D", 1) == ["A"]
    assert c.queue() == [("B", False), ("C", False), ("D", False)]


def test_sieve_is_byte_aware() -> None:
    c: SIEVE[str] = SIEVE(10)
    c.insert("a", 2)
    c.insert("b", 5)
    c.insert("c", 3)
    c.access("b")
    # 5 bytes needed: a (2) goes, b is visited (cleared, kept), c (3) goes; then it fits.
    assert c.insert("d", 5) == ["a", "c"]
    assert c.queue() == [("b", False), ("d", False)]
    assert c.used_bytes == 10
    # 6 bytes needed: the hand wrapped past the head; b, no longer visited, goes first.
    assert c.insert("e", 6) == ["b", "d"]
    assert c.used_bytes == 6


def test_s3fifo_small_queue_promotes_hit_keys_and_ghosts_the_rest() -> None:
    c: S3FIFO[str] = S3FIFO(10)  # small queue: 1 byte of 10
    for k in "abcdefghij":
        c.insert(k, 1)
    c.access("a")
    c.access("b")
    c.access("b")
    # Full. Small holds 10 bytes >= 1: a (hit) and b (hit) move to main with counters cleared,
    # c (never hit) is evicted into the ghost.
    assert c.insert("k", 1) == ["c"]
    small, main, ghost = c.queues()
    assert [k for k, _ in small] == list("defghijk")
    assert main == [("a", 0), ("b", 0)]
    assert ghost == ["c"]
    # A key the ghost remembers goes straight to main.
    assert c.insert("c", 1) == ["d"]
    small, main, ghost = c.queues()
    assert main == [("a", 0), ("b", 0), ("c", 0)]
    assert ghost == ["d"]


def test_s3fifo_main_queue_reinserts_by_frequency_capped_at_3() -> None:
    c: S3FIFO[str] = S3FIFO(4, small_ratio=0.25)  # small queue: 1 byte
    for k in "abcd":
        c.insert(k, 1)
        c.access(k)
    # Small is 4 bytes >= 1: a, b, c, d were hit, so all move to main (counters cleared);
    # small is then empty, so main evicts its oldest unhit key, a.
    assert c.insert("e", 1) == ["a"]
    assert c.queues() == ([("e", 0)], [("b", 0), ("c", 0), ("d", 0)], [])
    for _ in range(5):
        c.access("b")
    c.access("c")
    c.access("e")
    assert c.queues()[1] == [("b", 3), ("c", 1), ("d", 0)]  # capped at 3
    # e (hit) moves from small to main; main reinserts b (3 -> 2) and c (1 -> 0), evicts d.
    assert c.insert("f", 1) == ["d"]
    assert c.queues() == ([("f", 0)], [("e", 0), ("b", 2), ("c", 0)], [])
    # f was never hit: evicted from small into the ghost.
    assert c.insert("g", 1) == ["f"]
    assert c.queues()[2] == ["f"]
    # f again: g is ghosted to make room, and f, remembered by the ghost, goes to main.
    assert c.insert("f", 1) == ["g"]
    assert c.queues() == ([], [("e", 0), ("b", 2), ("c", 0), ("f", 0)], ["g"])


def test_s3fifo_ghost_is_bounded_by_bytes() -> None:
    c: S3FIFO[str] = S3FIFO(4, small_ratio=0.25)  # ghost holds up to 3.6 bytes
    for i in range(10):
        c.insert(f"k{i}", 1)
    assert c.queues()[2] == ["k3", "k4", "k5"]


def test_pinned_keys_are_never_evicted_and_leave_the_rest_to_the_policy() -> None:
    for name in ("lru", "sieve", "s3fifo"):
        c = make_policy(name, 10)
        c.insert("filled", 6, pinned=True)
        assert c.pinned_bytes == 6
        assert c.fits(4)
        assert not c.fits(5)
        c.insert("x", 2)
        c.insert("y", 2)
        assert c.insert("z", 2) == ["x"], name
        assert "filled" in c
        assert c.access("filled")
        with pytest.raises(CacheFull):
            c.insert("big", 5)
        assert "y" in c  # nothing was evicted for the rejected object


def test_unpin_returns_a_key_to_the_queues() -> None:
    c: LRU[str] = LRU(4)
    c.insert("f", 2, pinned=True)
    c.insert("a", 1)
    c.insert("b", 1)
    assert c.unpin("f")
    assert not c.unpin("f")
    assert c.pinned_bytes == 0
    assert c.recency() == ["a", "b", "f"]  # readmitted as most recent
    assert c.insert("c", 2) == ["a", "b"]


def test_s3fifo_unpinned_keys_join_main_with_their_hits() -> None:
    c: S3FIFO[str] = S3FIFO(10)
    c.insert("f", 3, pinned=True)
    for _ in range(5):
        c.access("f")
    c.unpin("f")
    assert c.queues()[1] == [("f", 3)]


def test_pin_existing_key_and_pin_errors() -> None:
    c: SIEVE[str] = SIEVE(5)
    c.insert("a", 2)
    c.pin("a")
    c.pin("a")  # idempotent
    assert c.is_pinned("a")
    assert c.queue() == []
    with pytest.raises(NotCached):
        c.pin("missing")
    with pytest.raises(NotCached):
        c.size_of("missing")


def test_insert_of_held_key_counts_as_access_or_replaces_on_new_size() -> None:
    c: LRU[str] = LRU(10)
    c.insert("a", 2)
    c.insert("b", 2)
    assert c.insert("a", 2) == []
    assert c.recency() == ["b", "a"]
    c.insert("a", 5)
    assert c.size_of("a") == 5
    assert c.used_bytes == 7
    c.insert("b", 2, pinned=True)
    assert c.is_pinned("b")


def test_remove_and_bad_arguments() -> None:
    c: S3FIFO[str] = S3FIFO(10)
    c.insert("a", 3)
    c.insert("p", 3, pinned=True)
    assert c.remove("a")
    assert c.remove("p")
    assert not c.remove("a")
    assert c.used_bytes == 0
    assert c.pinned_bytes == 0
    assert len(c) == 0
    with pytest.raises(ValueError, match="size"):
        c.insert("z", 0)
    with pytest.raises(ValueError, match="capacity"):
        LRU(0)
    with pytest.raises(ValueError, match="unknown eviction policy"):
        make_policy("arc", 10)


def test_every_policy_satisfies_the_interface() -> None:
    policies: list[EvictionPolicy[str]] = [LRU(10), SIEVE(10), S3FIFO(10)]
    for policy in policies:
        assert policy.insert("a", 4) == []
        assert policy.access("a")
        assert policy.used_bytes == 4


@pytest.mark.parametrize("name", ["lru", "sieve", "s3fifo"])
def test_policies_report_their_contents(name: str) -> None:
    c: CacheIndex[Hashable] = make_policy(name, 100)
    for k in range(5):
        c.insert(k, 10)
    assert set(c) == {0, 1, 2, 3, 4}
    assert len(c) == 5
    assert c.capacity == 100
    assert c.name == name
