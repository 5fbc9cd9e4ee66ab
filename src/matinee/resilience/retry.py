"""When a failed attempt may be retried, and how many retries the budget allows.

Retryability follows Zuul (Ribbon's ``MaxAutoRetriesNextServer``): a retry always goes to a
different instance (the attempt function picks it), a connect error is always retryable because
the request never reached an application, while a read timeout or a 503 is retryable only for
idempotent requests, since the first instance may have acted on it.

The budget is Finagle's ``RetryBudget``: every request deposits, every retry withdraws, and
deposits expire after ``ttl`` seconds. Over any ``ttl`` window, retries are bounded by
``min_per_second * ttl + ratio * requests``, so retries cannot multiply the load of an outage.
"""

from __future__ import annotations

import math
from collections import deque

from matinee.clock import Clock
from matinee.resilience.errors import (
    UpstreamConnectError,
    UpstreamReadTimeout,
    UpstreamStatusError,
)

_SLACK = 1e-9  # ratio * deposits is a float; 0.1 * 30 must still allow 3 retries


def is_retryable(exc: BaseException, idempotent: bool) -> bool:
    """May the failed attempt be retried on another instance?"""
    if isinstance(exc, UpstreamConnectError):
        return True
    if isinstance(exc, UpstreamReadTimeout):
        return idempotent
    if isinstance(exc, UpstreamStatusError):
        return idempotent and exc.response.status == 503
    return False


class RetryBudget:
    """Finagle-style retry budget, counted in 1 s buckets over a ``ttl`` window."""

    def __init__(
        self,
        *,
        ratio: float = 0.2,
        min_per_second: float = 10.0,
        ttl: float = 10.0,
        clock: Clock,
    ) -> None:
        if not 0.0 <= ratio <= 1000.0:
            raise ValueError("a retry budget ratio must be between 0 and 1000")
        if min_per_second < 0 or ttl < 1.0:
            raise ValueError("a retry budget needs min_per_second >= 0 and ttl >= 1 s")
        self.ratio = ratio
        self.min_per_second = min_per_second
        self.ttl = ttl
        self._clock = clock
        self._reserve = min_per_second * ttl
        self._slots = math.ceil(ttl)
        # (second, deposits, withdrawals), oldest first
        self._buckets: deque[list[int]] = deque()

    def _current(self) -> list[int]:
        second = math.floor(self._clock.monotonic())
        oldest = second - self._slots + 1
        while self._buckets and self._buckets[0][0] < oldest:
            self._buckets.popleft()
        if not self._buckets or self._buckets[-1][0] < second:
            self._buckets.append([second, 0, 0])
        return self._buckets[-1]

    def deposit(self) -> None:
        """Count one request (not a retry)."""
        self._current()[1] += 1

    def try_withdraw(self) -> bool:
        """Take one retry from the budget; False when it is spent."""
        bucket = self._current()
        if self._balance() < 1.0 - _SLACK:
            return False
        bucket[2] += 1
        return True

    def _balance(self) -> float:
        deposits = sum(b[1] for b in self._buckets)
        withdrawals = sum(b[2] for b in self._buckets)
        return self._reserve + self.ratio * deposits - withdrawals

    @property
    def balance(self) -> float:
        """Retries available right now (may be fractional)."""
        self._current()
        return max(0.0, self._balance())
