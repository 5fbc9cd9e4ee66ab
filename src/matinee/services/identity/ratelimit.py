"""The login rate limit: a sliding-window log of attempts kept in the database.

Each counted attempt is one row (``login_attempts``), so every instance of a fleet counts the
same attempts. An attempt is refused when its scope already holds ``attempts`` rows within the
last ``window_s`` seconds; it may try again once the oldest of them leaves the window. Keys are
stored as SHA-256 digests: the table never holds an email or an address in the clear.

Scopes: ``account`` (failed sign-ins and password checks per email address, known or not, so a
429 says nothing about whether the account exists), ``client`` (failed sign-ins per client
address) and ``signup`` (sign-ups per client address).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from matinee.clock import Clock
from matinee.services.identity.config import WindowLimit
from matinee.services.identity.errors import TooManyAttempts
from matinee.services.identity.store import IdentityStore

ACCOUNT = "account"
CLIENT = "client"
SIGNUP = "signup"


def digest(scope: str, key: str) -> str:
    return hashlib.sha256(f"{scope}\x00{key}".encode("utf-8", "surrogatepass")).hexdigest()


class AttemptLimiter:
    """Checks, records and clears attempts of one scope against one limit."""

    def __init__(self, scope: str, limit: WindowLimit, clock: Clock, message: str) -> None:
        self.scope = scope
        self.limit = limit
        self.clock = clock
        self.message = message

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.time(), UTC)

    async def retry_after(self, store: IdentityStore, key: str) -> float | None:
        """Seconds until ``key`` may try again, or None when it may now."""
        now = self._now()
        window = timedelta(seconds=self.limit.window_s)
        times = await store.attempts_since(self.scope, digest(self.scope, key), now - window)
        if len(times) < self.limit.attempts:
            return None
        # Enough of the oldest must leave the window for one more attempt to fit.
        freed = times[len(times) - self.limit.attempts]
        return max((freed + window - now).total_seconds(), 0.0)

    async def check(self, store: IdentityStore, key: str) -> None:
        """:class:`TooManyAttempts` (with ``retry_after``) when ``key`` is over the limit."""
        wait = await self.retry_after(store, key)
        if wait is not None:
            raise TooManyAttempts(self.message, retry_after=wait)

    async def record(self, store: IdentityStore, key: str) -> None:
        """Count one attempt now. Only an INSERT: deleting the key's old rows here as well
        makes concurrent transactions deadlock on MySQL's gap locks; :meth:`prune` does it."""
        await store.add_attempt(self.scope, digest(self.scope, key), self._now())

    async def clear(self, store: IdentityStore, key: str) -> None:
        """Forget every attempt of ``key`` (a successful sign-in clears its email's failures)."""
        await store.clear_attempts(self.scope, digest(self.scope, key))

    async def prune(self, store: IdentityStore) -> int:
        """Delete every attempt of this scope that left the window."""
        before = self._now() - timedelta(seconds=self.limit.window_s)
        return await store.clear_attempts(self.scope, before=before)
