"""Byte-capacity cache indexes with pluggable eviction: the interface, the shared base and LRU.

SIEVE is in :mod:`matinee.cdn.sieve`, S3-FIFO in :mod:`matinee.cdn.s3fifo`.

An edge keeps its files on disk. An index here tracks only keys and sizes, and on each insert
says which keys to delete to make room. Every operation is O(1) amortized.

Pinning: proactively filled content must stay until its fill window ends. A pinned key leaves
the eviction queues and is never chosen as a victim; its bytes still count against the
capacity, so the policy works in the space that pinned content leaves free. Unpinning puts the
key back into the queues as a warm entry (it then competes like any other), so a file that was
filled yesterday and is still watched is not thrown away and fetched again. We chose this over a
separate "filled" region because one file is then never held twice, and the split between
filled and pulled bytes follows the fill plan instead of a fixed partition.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import ClassVar, Generic, Protocol, TypeVar

from matinee.cdn.errors import CacheFull, NotCached

K = TypeVar("K", bound=Hashable)


class EvictionPolicy(Protocol[K]):
    """What the edge appliance, the fill controller and the cache study use."""

    name: ClassVar[str]

    @property
    def capacity(self) -> int: ...
    @property
    def used_bytes(self) -> int: ...
    @property
    def pinned_bytes(self) -> int: ...
    def __contains__(self, key: object) -> bool: ...
    def __len__(self) -> int: ...
    def access(self, key: K) -> bool:
        """Record a request; True if the key is held (a hit)."""
        ...

    def insert(self, key: K, size: int, *, pinned: bool = False) -> list[K]:
        """Admit a key of ``size`` bytes; return the keys evicted to make room."""
        ...

    def remove(self, key: K) -> bool: ...
    def pin(self, key: K) -> None: ...
    def unpin(self, key: K) -> bool: ...
    def fits(self, size: int) -> bool: ...


class CacheIndex(Generic[K]):
    """Shared bookkeeping: sizes, capacity, pinning. Subclasses keep the eviction queues."""

    name: ClassVar[str] = "index"

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be a positive number of bytes")
        self._capacity = capacity
        self._sizes: dict[K, int] = {}
        self._used = 0
        self._pinned: dict[K, int] = {}  # key -> hits while pinned
        self._pinned_bytes = 0

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def used_bytes(self) -> int:
        return self._used

    @property
    def pinned_bytes(self) -> int:
        return self._pinned_bytes

    def __contains__(self, key: object) -> bool:
        return key in self._sizes

    def __len__(self) -> int:
        return len(self._sizes)

    def __iter__(self) -> Iterator[K]:
        return iter(list(self._sizes))

    def size_of(self, key: K) -> int:
        try:
            return self._sizes[key]
        except KeyError:
            raise NotCached(f"{key!r} is not in the cache") from None

    def is_pinned(self, key: K) -> bool:
        return key in self._pinned

    def fits(self, size: int) -> bool:
        """Whether an object of ``size`` bytes can be admitted next to the pinned content."""
        return 0 < size <= self._capacity - self._pinned_bytes

    def access(self, key: K) -> bool:
        if key not in self._sizes:
            return False
        if key in self._pinned:
            self._pinned[key] += 1
        else:
            self._hit(key)
        return True

    def insert(self, key: K, size: int, *, pinned: bool = False) -> list[K]:
        """Admit ``key``. A key already held with the same size counts as an access (and is
        pinned if asked); with a new size it is replaced. Raises CacheFull if the object does
        not fit beside the pinned content; nothing is evicted then."""
        if size <= 0:
            raise ValueError("an object's size must be a positive number of bytes")
        sizes = self._sizes
        if key in sizes:
            return self._insert_held(key, size, pinned=pinned)
        capacity = self._capacity
        if size > capacity - self._pinned_bytes:
            self._refuse(size, self._pinned_bytes)
        evicted: list[K] = []
        used = self._used + size
        if used > capacity:
            evict = self._evict
            while used > capacity:
                victim = evict()
                used -= sizes.pop(victim)
                evicted.append(victim)
        sizes[key] = size
        self._used = used
        if pinned:
            self._pinned[key] = 0
            self._pinned_bytes += size
        else:
            self._admit(key, size)
        return evicted

    def _insert_held(self, key: K, size: int, *, pinned: bool) -> list[K]:
        held = self._sizes[key]
        if held != size:
            others = self._pinned_bytes - (held if key in self._pinned else 0)
            if size > self._capacity - others:
                self._refuse(size, others)  # before removing: the old version stays
            self.remove(key)
            return self.insert(key, size, pinned=pinned)
        if pinned:
            self.pin(key)
        else:
            self.access(key)
        return []

    def _refuse(self, size: int, pinned_bytes: int) -> None:
        raise CacheFull(
            f"an object of {size} bytes does not fit: {pinned_bytes} of {self._capacity} bytes "
            "are pinned"
        )

    def remove(self, key: K) -> bool:
        """Drop a key (for example, its file was deleted). False if it was not held."""
        size = self._sizes.pop(key, None)
        if size is None:
            return False
        self._used -= size
        if self._pinned.pop(key, None) is not None:
            self._pinned_bytes -= size
        else:
            self._forget(key, size)
        return True

    def pin(self, key: K) -> None:
        """Keep ``key`` until :meth:`unpin`; it is never chosen for eviction meanwhile."""
        size = self._sizes.get(key)
        if size is None:
            raise NotCached(f"cannot pin {key!r}: it is not in the cache")
        if key in self._pinned:
            return
        self._forget(key, size)
        self._pinned[key] = 0
        self._pinned_bytes += size

    def unpin(self, key: K) -> bool:
        """Return a pinned key to the eviction queues. False if it was not pinned."""
        hits = self._pinned.pop(key, None)
        if hits is None:
            return False
        size = self._sizes[key]
        self._pinned_bytes -= size
        self._readmit(key, size, hits)
        return True

    # The eviction queues, kept by each policy. ``_evict`` removes its victim from the queues
    # and returns it; the caller drops it from ``_sizes``.
    def _hit(self, key: K) -> None:
        raise NotImplementedError

    def _admit(self, key: K, size: int) -> None:
        raise NotImplementedError

    def _readmit(self, key: K, size: int, hits: int) -> None:
        raise NotImplementedError

    def _forget(self, key: K, size: int) -> None:
        raise NotImplementedError

    def _evict(self) -> K:
        raise NotImplementedError


class LRU(CacheIndex[K]):
    """Least recently used: a hit moves the key to the front; the back is evicted."""

    name = "lru"

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self._order: OrderedDict[K, None] = OrderedDict()  # oldest first

    def access(self, key: K) -> bool:
        order = self._order
        if key in order:
            order.move_to_end(key)
            return True
        pinned = self._pinned  # a held key is either in the queues or pinned
        if key in pinned:
            pinned[key] += 1
            return True
        return False

    def recency(self) -> list[K]:
        """Unpinned keys, least recently used first."""
        return list(self._order)

    def _hit(self, key: K) -> None:
        self._order.move_to_end(key)

    def _admit(self, key: K, size: int) -> None:
        self._order[key] = None

    def _readmit(self, key: K, size: int, hits: int) -> None:
        self._order[key] = None

    def _forget(self, key: K, size: int) -> None:
        del self._order[key]

    def _evict(self) -> K:
        return self._order.popitem(last=False)[0]
