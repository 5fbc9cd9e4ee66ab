"""What an edge tells steering about itself: health, load, hit counts and an inventory.

``GET /edge/report`` answers::

    {"edge_id", "cluster", "region", "public_url", "healthy": bool,
     "load": {"inflight": int, "bytes_out_per_s": float, "requests_per_s": float},
     (with nginx in front, "inflight" adds what nginx was answering at its last count, each
     second, and the rates include its hits, read from its log each second)
     "capacity_bytes", "used_bytes", "pinned_bytes", "objects", "policy",
     "hits", "misses", "hit_ratio",
     "upstream": {"peer": {"fetches", "bytes"}, "origin": {"fetches", "bytes"},
                  "peers": [url, ...], "origins": [url, ...]},
     "inventory": {"media/assets/<id>/": bytes_held, ...}}

Rates are over the last ``window`` seconds, in one-second buckets (cheap enough to count on
every request).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from matinee.cdn.edge.config import EdgeConfig
from matinee.cdn.edge.store import DiskStore
from matinee.clock import Clock


class RateWindow:
    """Events per second over the last ``window`` seconds, in whole-second buckets."""

    def __init__(self, clock: Clock, window: int = 10) -> None:
        self._clock = clock
        self._window = window
        self._buckets = [0.0] * window
        self._second = int(clock.monotonic())

    def _advance(self, second: int) -> None:
        gap = second - self._second
        if gap <= 0:
            return
        buckets = self._buckets
        for step in range(1, min(gap, self._window) + 1):
            buckets[(self._second + step) % self._window] = 0.0
        self._second = second

    def add(self, amount: float = 1.0) -> None:
        second = int(self._clock.monotonic())
        if second != self._second:
            self._advance(second)
        self._buckets[second % self._window] += amount

    def per_second(self) -> float:
        """The mean rate over the window's whole seconds (the current one left out)."""
        self._advance(int(self._clock.monotonic()))
        current = self._second % self._window
        done = sum(v for i, v in enumerate(self._buckets) if i != current)
        return done / (self._window - 1)


@dataclass
class UpstreamCount:
    fetches: int = 0
    bytes: int = 0


@dataclass
class EdgeStats:
    """Counters the request path bumps; read by the report."""

    clock: Clock
    hits: int = 0
    misses: int = 0
    inflight: int = 0
    front_inflight: int = 0  # what nginx in front was answering at its last count
    requests: RateWindow = field(init=False)
    bytes_out: RateWindow = field(init=False)
    upstream: dict[str, UpstreamCount] = field(
        default_factory=lambda: {"peer": UpstreamCount(), "origin": UpstreamCount()}
    )

    def __post_init__(self) -> None:
        self.requests = RateWindow(self.clock)
        self.bytes_out = RateWindow(self.clock)

    def served(self, size: int) -> None:
        self.requests.add()
        self.bytes_out.add(size)

    def served_many(self, requests: int, size: int) -> None:
        """``requests`` responses of ``size`` bytes in all (counted by someone else)."""
        self.requests.add(requests)
        self.bytes_out.add(size)

    def fetched(self, source: str, size: int) -> None:
        count = self.upstream[source]
        count.fetches += 1
        count.bytes += size

    @property
    def hit_ratio(self) -> float:
        total = self.hits + self.misses
        return round(self.hits / total, 4) if total else 0.0


def edge_report(
    config: EdgeConfig,
    stats: EdgeStats,
    store: DiskStore,
    *,
    healthy: bool,
    upstreams: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """The report steering polls."""
    return {
        "edge_id": config.edge_id,
        "cluster": config.cluster,
        "region": config.region,
        "public_url": config.url,
        "healthy": healthy,
        "load": {
            "inflight": stats.inflight + stats.front_inflight,
            "bytes_out_per_s": round(stats.bytes_out.per_second(), 1),
            "requests_per_s": round(stats.requests.per_second(), 2),
        },
        "capacity_bytes": store.capacity,
        "used_bytes": store.used_bytes,
        "pinned_bytes": store.pinned_bytes,
        "objects": len(store),
        "policy": store.policy,
        "hits": stats.hits,
        "misses": stats.misses,
        "hit_ratio": stats.hit_ratio,
        "upstream": {
            **{n: {"fetches": c.fetches, "bytes": c.bytes} for n, c in stats.upstream.items()},
            **(upstreams or {}),
        },
        "inventory": store.inventory(),
    }
