"""S3-FIFO eviction (SOSP'23) over a byte-capacity cache index."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import ClassVar, TypeVar

from matinee.cdn.eviction import CacheIndex

K = TypeVar("K", bound=Hashable)


class S3FIFO(CacheIndex[K]):
    """S3-FIFO (Yang et al., SOSP'23): a small FIFO, a main FIFO and a ghost FIFO.

    New keys enter the small queue, or the main queue if the ghost remembers them. Hits raise a
    frequency counter capped at 3. Eviction takes from the small queue while it holds at least
    ``small_ratio`` (10%) of the unpinned space, else from the main queue. Evicting from the
    small queue moves a key hit at least ``promote_threshold`` times to the main queue (counter
    cleared) and otherwise evicts it and remembers it in the ghost. Evicting from the main queue
    reinserts a key whose counter is above zero (minus one) and otherwise evicts it. The ghost
    holds keys and sizes up to ``ghost_ratio`` of the unpinned space, oldest dropped first.
    ``promote_threshold=1`` is the original S3-FIFO; libCacheSim later moved to 2.
    """

    name = "s3fifo"
    MAX_FREQ: ClassVar[int] = 3

    def __init__(
        self,
        capacity: int,
        *,
        small_ratio: float = 0.1,
        ghost_ratio: float = 0.9,
        promote_threshold: int = 1,
    ) -> None:
        super().__init__(capacity)
        if not 0 < small_ratio < 1 or ghost_ratio < 0 or promote_threshold < 1:
            raise ValueError("need 0 < small_ratio < 1, ghost_ratio >= 0, promote_threshold >= 1")
        self._small_ratio = small_ratio
        self._ghost_ratio = ghost_ratio
        self._promote = promote_threshold
        self._small: OrderedDict[K, int] = OrderedDict()  # key -> freq, oldest first
        self._main: OrderedDict[K, int] = OrderedDict()
        self._ghost: OrderedDict[K, int] = OrderedDict()  # key -> size
        self._small_bytes = 0
        self._main_bytes = 0
        self._ghost_bytes = 0

    def access(self, key: K) -> bool:
        small = self._small
        freq = small.get(key)
        if freq is not None:
            if freq < 3:
                small[key] = freq + 1
            return True
        main = self._main
        freq = main.get(key)
        if freq is not None:
            if freq < 3:
                main[key] = freq + 1
            return True
        pinned = self._pinned  # a held key is either in the queues or pinned
        if key in pinned:
            pinned[key] += 1
            return True
        return False

    def queues(self) -> tuple[list[tuple[K, int]], list[tuple[K, int]], list[K]]:
        """(small, main, ghost), each oldest first; small and main with their counters."""
        return list(self._small.items()), list(self._main.items()), list(self._ghost)

    def _hit(self, key: K) -> None:  # pragma: no cover - access() handles hits itself
        queue = self._small if key in self._small else self._main
        queue[key] = min(queue[key] + 1, self.MAX_FREQ)

    def _admit(self, key: K, size: int) -> None:
        ghost_size = self._ghost.pop(key, None)
        if ghost_size is not None:
            self._ghost_bytes -= ghost_size
            self._main[key] = 0
            self._main_bytes += size
        else:
            self._small[key] = 0
            self._small_bytes += size

    def _readmit(self, key: K, size: int, hits: int) -> None:
        # Filled content has earned its place: it rejoins the main queue.
        self._main[key] = min(hits, self.MAX_FREQ)
        self._main_bytes += size

    def _forget(self, key: K, size: int) -> None:
        if self._small.pop(key, None) is not None:
            self._small_bytes -= size
        else:
            del self._main[key]
            self._main_bytes -= size

    def remove(self, key: K) -> bool:
        ghost_size = self._ghost.pop(key, None)
        if ghost_size is not None:
            self._ghost_bytes -= ghost_size
        return super().remove(key)

    def _evict(self) -> K:
        room = self._capacity - self._pinned_bytes
        small, main, sizes = self._small, self._main, self._sizes
        while True:
            if small and (self._small_bytes >= self._small_ratio * room or not main):
                key, freq = small.popitem(last=False)
                size = sizes[key]
                self._small_bytes -= size
                if freq >= self._promote:
                    main[key] = 0
                    self._main_bytes += size
                    continue
                self._remember(key, size, room)
                return key
            key, freq = main.popitem(last=False)
            if freq > 0:
                main[key] = freq - 1
                continue
            self._main_bytes -= sizes[key]
            return key

    def _remember(self, key: K, size: int, room: int) -> None:
        ghost = self._ghost
        ghost[key] = size
        self._ghost_bytes += size
        limit = self._ghost_ratio * room
        while self._ghost_bytes > limit and ghost:
            self._ghost_bytes -= ghost.popitem(last=False)[1]
