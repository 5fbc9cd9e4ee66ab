"""Where an edge fills a miss from: peers of its own cluster first, then the origin.

Peers are the URLs the edge was given plus the edges of the same cluster in discovery (app
``edge``, metadata ``cluster``). They are asked in rendezvous-hash order of the key, so every
edge of a cluster asks the same peer first for a given object and a cluster fills each object
once. Origins are the URLs given, else the instances of the origin app (``media``) in
discovery, taken in turn. An upstream that failed is skipped for ``skip_seconds`` (unless every
one is skipped: then all are tried again).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from matinee.cdn.edge.config import EDGE_APP, EdgeConfig
from matinee.clock import Clock
from matinee.discovery.client import DiscoveryClient


class Upstreams:
    """Peer and origin base URLs for each fill."""

    def __init__(
        self,
        config: EdgeConfig,
        clock: Clock,
        discovery: DiscoveryClient | None = None,
        *,
        skip_seconds: float = 5.0,
    ) -> None:
        self._config = config
        self._clock = clock
        self._discovery = discovery
        self._skip = skip_seconds
        self._down: dict[str, float] = {}
        self._turn = 0

    def peers(self, key: str) -> list[str]:
        """Peer edges of this cluster to ask for ``key``, in the order every peer agrees on."""
        config = self._config
        urls = [u.rstrip("/") for u in config.peers]
        if self._discovery is not None:
            for info in self._discovery.instances(EDGE_APP):
                if info.instance_id != config.edge_id and info.metadata.get("cluster") == (
                    config.cluster
                ):
                    urls.append(info.base_url)
        mine = {config.url, f"http://{config.host}:{config.port}"}
        found = [u for u in dict.fromkeys(urls) if u not in mine]
        found.sort(key=lambda url: _weight(url, key), reverse=True)
        return self._alive(found, keep_all=False)

    def _origin_urls(self) -> list[str]:
        urls = [u.rstrip("/") for u in self._config.origins]
        if not urls and self._discovery is not None:
            urls = [i.base_url for i in self._discovery.instances(self._config.origin_app)]
        return urls

    def origins(self) -> list[str]:
        """Origin base URLs, starting with the next in turn."""
        urls = self._origin_urls()
        if not urls:
            return []
        self._turn = (self._turn + 1) % len(urls)
        return self._alive(urls[self._turn :] + urls[: self._turn], keep_all=True)

    def known(self) -> dict[str, list[str]]:
        """Every peer and origin known right now (for the report)."""
        return {"peers": sorted(self.peers("")), "origins": sorted(self._origin_urls())}

    def failed(self, url: str) -> None:
        """Skip ``url`` for a while: it did not answer, or answered with an error."""
        self._down[url] = self._clock.monotonic() + self._skip

    def _alive(self, urls: Iterable[str], *, keep_all: bool) -> list[str]:
        now = self._clock.monotonic()
        ordered = list(urls)
        alive = [u for u in ordered if self._down.get(u, 0.0) <= now]
        # Peers are optional (the origin follows); origins are not: try them all, skipped or not.
        return alive if alive or not keep_all else ordered


def _weight(url: str, key: str) -> bytes:
    return hashlib.blake2b(f"{url}\n{key}".encode(), digest_size=8).digest()
