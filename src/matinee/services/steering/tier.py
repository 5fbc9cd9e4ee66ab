"""The third-party CDN tier, as steering sees it: a base URL, up or not.

matinee's own tier is the nginx pull-through cache of ``cdn/thirdparty.py``, which answers
``GET /readyz``; :class:`CdnTier` checks that every poll. A CDN bought from someone else has no
such path: give ``health_path=None`` and it is always taken to be up.
"""

from __future__ import annotations

import logging

from matinee.clock import Clock
from matinee.runtime.transport import Transport

log = logging.getLogger(__name__)


class CdnTier:
    """The CDN at ``base_url``; ``up`` is the last health check's answer."""

    def __init__(
        self,
        base_url: str,
        transport: Transport,
        clock: Clock,
        *,
        name: str = "cdn",
        health_path: str | None = "/readyz",
        timeout_s: float = 1.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = name
        self._transport = transport
        self._clock = clock
        self._health_path = health_path
        self._timeout_s = timeout_s
        self.up = health_path is None
        self.checked_at: float | None = None

    async def check(self) -> bool:
        """Ask the CDN whether it is up (always up without a health path)."""
        if self._health_path is None:
            return True
        try:
            response = await self._transport.request(
                "GET", self.base_url + self._health_path, (), b"", self._timeout_s
            )
            up = response.status == 200
        except Exception:  # noqa: BLE001 - unreachable is simply down
            up = False
        if up != self.up:
            log.info("the CDN tier at %s is %s", self.base_url, "up" if up else "down")
        self.up = up
        self.checked_at = self._clock.monotonic()
        return up
