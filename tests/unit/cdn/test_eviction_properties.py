"""Eviction policies under random operation sequences: invariants, and agreement with plain
list-based reference implementations written straight from the papers' pseudo-code."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matinee.cdn import LRU, SIEVE, CacheFull, make_policy

CAPACITY = 20
keys = st.integers(0, 12)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), keys, st.integers(1, 8), st.booleans()),
        st.tuples(st.just("access"), keys),
        st.tuples(st.just("remove"), keys),
        st.tuples(st.just("pin"), keys),
        st.tuples(st.just("unpin"), keys),
    ),
    max_size=80,
)


@pytest.mark.parametrize("name", ["lru", "sieve", "s3fifo"])
@settings(max_examples=150, deadline=None)
@given(ops=ops)
def test_invariants_hold_under_any_sequence(name: str, ops: list[tuple[object, ...]]) -> None:
    c = make_policy(name, CAPACITY)
    held: dict[object, int] = {}
    pinned: set[object] = set()
    for op in ops:
        kind, key = op[0], op[1]
        if kind == "insert":
            size, pin = op[2], op[3]
            assert isinstance(size, int)
            assert isinstance(pin, bool)
            before = dict(held)
            try:
                evicted = c.insert(key, size, pinned=pin)
            except CacheFull:
                assert size > CAPACITY - c.pinned_bytes
                assert dict.fromkeys(c) == dict.fromkeys(before)
                continue
            for victim in evicted:
                assert victim in before, "evicted a key that was not held"
                assert victim not in pinned, "evicted a pinned key"
                assert victim not in c
                del held[victim]
            if before.get(key, size) != size:
                pinned.discard(key)  # a new size replaces the key: a fresh insert
            held[key] = size
            if pin:
                pinned.add(key)
        elif kind == "access":
            assert c.access(key) == (key in held)
        elif kind == "remove":
            assert c.remove(key) == (key in held)
            held.pop(key, None)
            pinned.discard(key)
        elif kind == "pin" and key in held:
            c.pin(key)
            pinned.add(key)
        elif kind == "unpin":
            assert c.unpin(key) == (key in pinned)
            pinned.discard(key)
        assert c.used_bytes <= CAPACITY
        assert set(c) == set(held)
        assert c.used_bytes == sum(held.values())
        assert c.pinned_bytes == sum(held[k] for k in pinned)
        assert all(c.is_pinned(k) == (k in pinned) for k in held)


@dataclass
class ListLRU:
    capacity: int
    items: list[tuple[int, int]] = field(default_factory=list)  # oldest first

    def request(self, key: int, size: int) -> list[int]:
        for i, (k, _) in enumerate(self.items):
            if k == key:
                self.items.append(self.items.pop(i))
                return []
        evicted = []
        while sum(s for _, s in self.items) + size > self.capacity:
            evicted.append(self.items.pop(0)[0])
        self.items.append((key, size))
        return evicted


@dataclass
class ListSIEVE:
    """Index 0 is the tail (oldest), the end is the head."""

    capacity: int
    items: list[list[int]] = field(default_factory=list)  # [key, size, visited]
    hand: int | None = None

    def request(self, key: int, size: int) -> list[int]:
        for item in self.items:
            if item[0] == key:
                item[2] = 1
                return []
        evicted = []
        while sum(item[1] for item in self.items) + size > self.capacity:
            i = 0 if self.hand is None else self.hand
            while self.items[i][2]:
                self.items[i][2] = 0
                i = i + 1 if i + 1 < len(self.items) else 0
            evicted.append(self.items.pop(i)[0])
            self.hand = i if i < len(self.items) else None
        self.items.append([key, size, 0])
        return evicted


requests = st.lists(st.tuples(st.integers(0, 15), st.integers(1, 6)), max_size=200)


def _sized(trace: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """One size per key, as in a real cache: the first size seen."""
    first: dict[int, int] = {}
    return [(k, first.setdefault(k, s)) for k, s in trace]


@settings(max_examples=200, deadline=None)
@given(trace=requests)
def test_lru_matches_the_reference(trace: list[tuple[int, int]]) -> None:
    c: LRU[int] = LRU(CAPACITY)
    ref = ListLRU(CAPACITY)
    for key, size in _sized(trace):
        got = [] if c.access(key) else c.insert(key, size)
        assert got == ref.request(key, size)
    assert c.recency() == [k for k, _ in ref.items]


@settings(max_examples=200, deadline=None)
@given(trace=requests)
def test_sieve_matches_the_reference(trace: list[tuple[int, int]]) -> None:
    c: SIEVE[int] = SIEVE(CAPACITY)
    ref = ListSIEVE(CAPACITY)
    for key, size in _sized(trace):
        got = [] if c.access(key) else c.insert(key, size)
        assert got == ref.request(key, size)
    assert c.queue() == [(k, bool(v)) for k, _, v in ref.items]
