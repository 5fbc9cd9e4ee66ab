"""Which episode follows a finished one: the catalog's ``next_episode_id``, cached briefly.

:class:`CatalogEpisodes` asks ``GET /internal/catalog/titles/{id}`` through the client stack.
When the catalog cannot answer (no instance, breaker open, timeout, 5xx) a counted fallback
answers instead (``resilience.fallback`` {dependency=catalog} and ``history.next_episode.fallback``)
and the suggestion is simply left out of continue-watching; that answer is not cached, so
suggestions return as soon as the catalog does. Real answers are kept ``ttl_s`` seconds
(a series' episode order hardly ever changes).
"""

from __future__ import annotations

import logging
from typing import Protocol
from urllib.parse import quote

from matinee.clock import Clock
from matinee.runtime.client import ServiceClient
from matinee.runtime.transport import Response
from matinee.telemetry.metrics import Registry

log = logging.getLogger(__name__)

CATALOG = "catalog"
TTL_S = 300.0
MAX_ENTRIES = 10_000
_UNAVAILABLE = 599  # the status our fallback answers with: never a real one


class NextEpisodes(Protocol):
    async def next_episode(self, title_id: str) -> str | None:
        """The id of the episode after ``title_id`` (None: not an episode, the last one, or
        the catalog could not say)."""
        ...


class CatalogEpisodes:
    """:class:`NextEpisodes` from the catalog service, with a small TTL cache."""

    def __init__(
        self, client: ServiceClient, clock: Clock, metrics: Registry, *, ttl_s: float = TTL_S
    ) -> None:
        self.client = client
        self.clock = clock
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._fallbacks = metrics.counter("history.next_episode.fallback")

    async def next_episode(self, title_id: str) -> str | None:
        now = self.clock.monotonic()
        hit = self._cache.get(title_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        response = await self.client.request(
            "GET", f"/internal/catalog/titles/{quote(title_id, safe='')}", fallback=_unavailable
        )
        if response.status == _UNAVAILABLE:
            self._fallbacks.inc()
            return None
        next_id: str | None = None
        if response.status == 200:
            body = response.json()
            value = body.get("next_episode_id") if isinstance(body, dict) else None
            next_id = value if isinstance(value, str) and value else None
        elif response.status != 404:  # 404: the catalog does not know it; nothing to offer
            log.warning("the catalog answered %d for title %s", response.status, title_id)
            return None
        if len(self._cache) >= MAX_ENTRIES:
            self._cache.clear()
        self._cache[title_id] = (now + self.ttl_s, next_id)
        return next_id


async def _unavailable(error: Exception) -> Response:
    return Response(_UNAVAILABLE, [], b"")
