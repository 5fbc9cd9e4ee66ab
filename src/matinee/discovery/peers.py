"""How discovery talks HTTP: an injected request callable, and a list of registry peers.

The callable has the shape of ``runtime.transport.Transport.request``:
``await request(method, url, headers, body, timeout) -> response`` with ``response.status`` and
``response.body``. It may be real sockets (aiohttp) or an in-process ASGI transport; discovery
does not care. Any exception it raises means "this peer did not answer".
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from matinee.discovery.errors import RegistryUnavailable

log = logging.getLogger(__name__)

REPLICATION_HEADER = "x-netflix-discovery-replication"
JSON_HEADERS: tuple[tuple[str, str], ...] = (
    ("accept", "application/json"),
    ("content-type", "application/json"),
)


class ResponseLike(Protocol):
    """What discovery reads from a response (``runtime.transport.Response`` has more)."""

    @property
    def status(self) -> int: ...

    @property
    def body(self) -> bytes: ...


RequestFn = Callable[[str, str, list[tuple[str, str]], bytes, float], Awaitable[ResponseLike]]


class RegistryPeers:
    """Registry base URLs (``http://host:port/eureka``) tried in turn, sticking to one that works.

    A peer that raises or answers 5xx is skipped for this call; a 4xx is an answer (404 on a
    renewal means "register again") and is returned.
    """

    def __init__(self, urls: Sequence[str], request: RequestFn, *, timeout: float) -> None:
        if not urls:
            raise ValueError("discovery needs at least one registry URL")
        self.urls = [u.rstrip("/") for u in urls]
        self._request = request
        self.timeout = timeout
        self._current = 0

    @property
    def current(self) -> str:
        return self.urls[self._current]

    async def call(
        self,
        method: str,
        path: str,
        *,
        headers: Sequence[tuple[str, str]] = JSON_HEADERS,
        body: bytes = b"",
    ) -> ResponseLike:
        problems: list[str] = []
        for step in range(len(self.urls)):
            index = (self._current + step) % len(self.urls)
            url = f"{self.urls[index]}{path}"
            try:
                response = await self._request(method, url, list(headers), body, self.timeout)
            except Exception as exc:  # noqa: BLE001 - the transport is injected; any failure means try the next peer
                problems.append(f"{self.urls[index]}: {str(exc) or type(exc).__name__}")
                continue
            if response.status >= 500:
                problems.append(f"{self.urls[index]}: answered {response.status}")
                continue
            if index != self._current:
                log.info("registry peer %s answers; using it from now on", self.urls[index])
                self._current = index
            return response
        raise RegistryUnavailable(
            f"no registry peer answered {method} {path} ({'; '.join(problems)})"
        )
