"""Session validation through the cache (the EVCache transient-store use).

The gateway asks ``POST /internal/identity/sessions/validate`` for every token it has not seen
for a few seconds; :class:`SessionCache` keeps the answer in ``ctx.cache("sessions")`` under the
token's SHA-256, for at most ``max_ttl_s`` (60 s) and never past the session's own end.

Revocation stays immediate at the identity service. Every revocation (sign-out, password
change, device removal, profile select or delete) overwrites the cached entries of the
sessions it ended with a short "revoked" marker, once its transaction has committed, before
it answers; answers are cached with ``add``, which never overwrites a key. So a validation
that read the session while it was still live and stores its answer after the revocation
cannot bring it back: the marker is already there, and a marker reads as a miss, which goes to
the database. Consistency across cache zones is EVCache's best effort (see ``matinee.cache``):
a zone that failed the marker write may answer the old entry until it expires (``max_ttl_s``
at most); such failures are counted in ``cache.write{result=error}`` and logged.

When the cache cannot be reached at all, validation reads the database (counted in
``identity.sessions.cache.fallback``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, ValidationError

from matinee.cache import Cache, CacheError
from matinee.clock import Clock
from matinee.telemetry.metrics import Registry

log = logging.getLogger(__name__)

MAX_TTL_S = 60.0
# With a cache only this process sees, no longer than the gateway keeps its answers.
PROCESS_LOCAL_TTL_S = 5.0
REVOKED = b"revoked"


class CachedSession(BaseModel):
    """A validation answer as the cache keeps it (``expires_at`` in epoch seconds)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account_id: str
    profile_id: str | None
    roles: tuple[str, ...]
    session_id: str
    expires_at: int
    country: str


class SessionCache:
    """Cached validation answers keyed by token hash; a no-op without a cache."""

    def __init__(
        self,
        cache: Cache | None,
        clock: Clock,
        *,
        metrics: Registry | None = None,
        max_ttl_s: float = MAX_TTL_S,
    ) -> None:
        if max_ttl_s <= 0:
            raise ValueError("a session cache needs a positive TTL")
        self.cache = cache
        self.clock = clock
        self.max_ttl_s = max_ttl_s
        self._fallbacks = (
            metrics.counter("identity.sessions.cache.fallback") if metrics is not None else None
        )
        self._logged = False

    @staticmethod
    def key(token_hash: str) -> str:
        return f"token:{token_hash}"

    async def lookup(self, token_hash: str) -> CachedSession | None:
        """The cached answer for a live session; None on a miss, a marker or an error."""
        if self.cache is None:
            return None
        try:
            raw = await self.cache.get(self.key(token_hash))
        except CacheError as exc:
            self._fallback(exc)
            return None
        if raw is None or raw == REVOKED:
            return None
        try:
            found = CachedSession.model_validate_json(raw)
        except ValidationError:  # written by another version: read the database instead
            return None
        return found if found.expires_at > self.clock.time() else None

    async def remember(self, token_hash: str, answer: CachedSession) -> None:
        """Keep ``answer`` until the session ends, at most ``max_ttl_s``; an existing entry
        or revocation marker is left as it is."""
        if self.cache is None:
            return
        ttl = min(self.max_ttl_s, answer.expires_at - self.clock.time())
        if ttl <= 0:
            return
        value = answer.model_dump_json().encode()
        try:
            await self.cache.add(self.key(token_hash), value, ttl=ttl)
        except CacheError as exc:
            self._fallback(exc)

    async def forget(self, token_hashes: Iterable[str]) -> None:
        """Mark these sessions revoked in the cache (call after the revocation committed)."""
        if self.cache is None:
            return
        cache = self.cache
        keys = [self.key(h) for h in token_hashes]
        results = await asyncio.gather(
            *(cache.set(k, REVOKED, ttl=self.max_ttl_s) for k in keys), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                if not isinstance(result, CacheError):
                    raise result
                self._fallback(result)

    def _fallback(self, exc: CacheError) -> None:
        if self._fallbacks is not None:
            self._fallbacks.inc()
        if not self._logged:
            self._logged = True
            log.warning(
                "the sessions cache failed (%s); validating from the database "
                "(counted in identity.sessions.cache.fallback, logged once)",
                exc,
            )
