"""Ketama consistent hashing, as libketama does it (and spymemcached, which EVCache uses).

Each server gets points on a 32-bit ring: ``floor(weight / total_weight * 40 * n_servers)``
MD5 digests of ``"<server>-<k>"``, four points per digest (so 160 points per server when the
weights are equal). A key hashes to the first four bytes of its MD5, read little-endian, and
belongs to the server of the first point at or after it, wrapping around. Adding or removing
one server moves only the keys on the arcs that server gains or loses (about 1/n of them).
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Mapping, Sequence

POINTS_PER_DIGEST = 4
DIGESTS_PER_SERVER = 40  # libketama: 40 digests x 4 points = 160 points per server


def _points(digest: bytes) -> list[int]:
    """The four 32-bit points of one MD5 digest, little-endian as libketama reads them."""
    return [int.from_bytes(digest[4 * h : 4 * h + 4], "little") for h in range(POINTS_PER_DIGEST)]


def key_hash(key: bytes) -> int:
    """Where a key lands on the ring: the first four MD5 bytes, little-endian."""
    return int.from_bytes(hashlib.md5(key, usedforsecurity=False).digest()[:4], "little")


class KetamaRing:
    """A ketama continuum over named servers (``"host:port"``), with optional integer weights."""

    def __init__(self, servers: Sequence[str], weights: Mapping[str, int] | None = None) -> None:
        if not servers:
            raise ValueError("a ketama ring needs at least one server")
        if len(set(servers)) != len(servers):
            raise ValueError(f"server names must be unique: {list(servers)}")
        weights = weights or {}
        if any(weights.get(s, 1) <= 0 for s in servers):
            raise ValueError("server weights must be positive")
        total = sum(weights.get(s, 1) for s in servers)
        entries: list[tuple[int, int, str]] = []
        for order, server in enumerate(servers):
            share = weights.get(server, 1) / total
            # libketama computes this in float; the epsilon keeps 40.0 from flooring to 39.
            digests = int(share * DIGESTS_PER_SERVER * len(servers) + 1e-9)
            for k in range(digests):
                digest = hashlib.md5(f"{server}-{k}".encode(), usedforsecurity=False).digest()
                entries.extend((point, order, server) for point in _points(digest))
        entries.sort()  # ties (rare) go to the server listed first
        self.servers: tuple[str, ...] = tuple(servers)
        self._points = [point for point, _, _ in entries]
        self._owners = [server for _, _, server in entries]

    def __len__(self) -> int:
        """How many points the ring has."""
        return len(self._points)

    def server_for(self, key: bytes) -> str:
        """The server that owns ``key``."""
        return self.server_at(key_hash(key))

    def server_at(self, point: int) -> str:
        """The server owning a ring position: the first point at or after it, wrapping."""
        i = bisect_left(self._points, point)
        return self._owners[i if i < len(self._owners) else 0]
