"""An optional RAM tier in front of the disk: the bytes of hot, small objects, sent as a body.

Off by default (``EdgeConfig.memory_bytes = 0``): every hit is then sent by the server from its
file (``pathsend``). Granian 2.8 opens and reads each ``pathsend`` file on its blocking thread
pool; handing it bytes already in memory costs less CPU per request (``bench/edge_vs_nginx.py``:
about 65-85 against 105-135 us for a 100 KB segment). That helps an edge held to one core
(100 KB, pinned: 0.87x nginx's requests/s against 0.66x), but the bytes then pass through the
Python thread, which with both cores free is the narrower pipe (0.7x against 0.8x); so it is a
knob, not a default. An object is admitted on its second request (one-hit wonders never take
RAM), up to ``max_object`` bytes, least recently used first out. An entry is only served while
it is the store's current one for its key (a refill replaces it).
"""

from __future__ import annotations

import os
from collections import OrderedDict

from matinee.cdn.edge.store import Entry

MAX_SEEN = 100_000


class MemoryTier:
    """Bytes of hot objects under ``capacity`` bytes."""

    def __init__(self, capacity: int, max_object: int = 256 * 1024) -> None:
        self.capacity = capacity
        self.max_object = max_object
        self.used = 0
        self._held: OrderedDict[str, tuple[Entry, bytes]] = OrderedDict()
        self._seen: set[str] = set()

    def __len__(self) -> int:
        return len(self._held)

    def get(self, entry: Entry) -> bytes | None:
        """The object's bytes if held (or worth holding from now on), else None."""
        held = self._held.get(entry.key)
        if held is not None:
            if held[0] is entry:
                self._held.move_to_end(entry.key)
                return held[1]
            self._drop(entry.key)  # the store holds a newer version
        size = entry.rep.size
        if not entry.cached or size > self.max_object or size > self.capacity:
            return None
        if entry.key not in self._seen:
            if len(self._seen) >= MAX_SEEN:
                self._seen.clear()
            self._seen.add(entry.key)
            return None
        body = _read(entry.path, size)
        if body is None:
            return None
        while self.used + size > self.capacity:
            self._drop(next(iter(self._held)))
        self._held[entry.key] = (entry, body)
        self.used += size
        return body

    def _drop(self, key: str) -> None:
        _, body = self._held.pop(key)
        self.used -= len(body)


def _read(path: str, size: int) -> bytes | None:
    """The whole file (from the page cache, once per admission), or None if it changed."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        body = os.pread(fd, size, 0)
    finally:
        os.close(fd)
    return body if len(body) == size else None
