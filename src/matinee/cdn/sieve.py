"""SIEVE eviction (NSDI'24) over a byte-capacity cache index."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

from matinee.cdn.eviction import CacheIndex

K = TypeVar("K", bound=Hashable)


class _Node(Generic[K]):
    __slots__ = ("key", "newer", "older", "visited")

    def __init__(self, key: K, visited: bool) -> None:
        self.key = key
        self.visited = visited
        self.newer: _Node[K] | None = None
        self.older: _Node[K] | None = None


class SIEVE(CacheIndex[K]):
    """SIEVE (Zhang et al., NSDI'24): one FIFO list, a visited bit and a moving hand.

    New keys go to the head. A hit only sets the visited bit. To evict, the hand walks from
    the tail towards the head, clearing visited bits, and evicts the first unvisited key; the
    hand stays where it stopped (wrapping to the tail past the head).
    """

    name = "sieve"

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self._nodes: dict[K, _Node[K]] = {}
        self._head: _Node[K] | None = None  # newest
        self._tail: _Node[K] | None = None  # oldest
        self._hand: _Node[K] | None = None

    def access(self, key: K) -> bool:
        node = self._nodes.get(key)
        if node is not None:
            node.visited = True
            return True
        pinned = self._pinned  # a held key is either in the queues or pinned
        if key in pinned:
            pinned[key] += 1
            return True
        return False

    def queue(self) -> list[tuple[K, bool]]:
        """Unpinned keys from tail (oldest) to head, with their visited bits."""
        out, node = [], self._tail
        while node is not None:
            out.append((node.key, node.visited))
            node = node.newer
        return out

    @property
    def hand(self) -> K | None:
        return None if self._hand is None else self._hand.key

    def _hit(self, key: K) -> None:
        self._nodes[key].visited = True

    def _admit(self, key: K, size: int) -> None:
        self._push(key, visited=False)

    def _readmit(self, key: K, size: int, hits: int) -> None:
        self._push(key, visited=hits > 0)

    def _push(self, key: K, *, visited: bool) -> None:
        node = _Node(key, visited)
        self._nodes[key] = node
        node.older = self._head
        if self._head is not None:
            self._head.newer = node
        self._head = node
        if self._tail is None:
            self._tail = node

    def _forget(self, key: K, size: int) -> None:
        self._unlink(self._nodes.pop(key))

    def _unlink(self, node: _Node[K]) -> None:
        if self._hand is node:
            self._hand = node.newer
        if node.older is not None:
            node.older.newer = node.newer
        else:
            self._tail = node.newer
        if node.newer is not None:
            node.newer.older = node.older
        else:
            self._head = node.older

    def _evict(self) -> K:
        node = self._hand or self._tail
        while node is not None and node.visited:
            node.visited = False
            node = node.newer or self._tail
        if node is None:
            raise RuntimeError("SIEVE: eviction from an empty queue")
        self._hand = node.newer
        self._unlink(node)
        del self._nodes[node.key]
        return node.key
