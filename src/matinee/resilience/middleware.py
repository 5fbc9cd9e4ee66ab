"""Pure-ASGI middleware that puts a server behind an adaptive concurrency :class:`Limiter`.

Each HTTP request takes a token; with none left the server answers at once with 503, a JSON
body and ``Retry-After`` instead of queueing work it cannot do in time. A request that ends
normally reports its RTT to the limit algorithm; one that raises or is cancelled is ignored
(it says nothing about load), as the library's servlet filter does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from matinee.resilience.limits import Limiter
from matinee.telemetry.metrics import Registry

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_EXEMPT = ("/healthz", "/readyz", "/metrics", "/resilience/stream")

_MESSAGE = "This server is handling as many requests as it can right now; try again shortly."


class ConcurrencyLimitMiddleware:
    """Refuse HTTP requests beyond the limiter's limit; other scopes pass straight through.

    ``exempt_paths`` are never limited (health probes, metrics scrapes, and long-lived streams,
    whose RTT would mislead the limit algorithm)."""

    def __init__(
        self,
        app: ASGIApp,
        limiter: Limiter,
        metrics: Registry,
        exempt_paths: tuple[str, ...] = DEFAULT_EXEMPT,
        *,
        retry_after: float = 1.0,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.exempt = frozenset(exempt_paths)
        self._rejected = metrics.counter("resilience.limit.rejected", limiter=limiter.name)
        body = json.dumps({"error": "overloaded", "message": _MESSAGE}).encode()
        self._body = body
        self._headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(max(1, math.ceil(retry_after))).encode()),
            (b"cache-control", b"no-store"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "") in self.exempt:
            await self.app(scope, receive, send)
            return
        token = self.limiter.try_acquire()
        if token is None:
            self._rejected.inc()
            await send({"type": "http.response.start", "status": 503, "headers": self._headers})
            await send({"type": "http.response.body", "body": self._body})
            return
        try:
            await self.app(scope, receive, send)
        except BaseException:
            token.ignore()
            raise
        token.success()
