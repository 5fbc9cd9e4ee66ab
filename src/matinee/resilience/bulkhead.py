"""A bulkhead: at most N calls to one dependency at once (Hystrix's semaphore isolation).

A call over the limit is refused at once with :class:`BulkheadFull`; it never waits in a
queue, so a slow dependency cannot pile up the caller's requests behind it.
"""

from __future__ import annotations

from types import TracebackType

from matinee.resilience.errors import BulkheadFull


class Bulkhead:
    def __init__(self, max_concurrent: int, *, name: str = "") -> None:
        if max_concurrent < 1:
            raise ValueError("a bulkhead must allow at least one concurrent call")
        self.name = name
        self.max_concurrent = max_concurrent
        self._inflight = 0

    @property
    def inflight(self) -> int:
        return self._inflight

    @property
    def available(self) -> int:
        return self.max_concurrent - self._inflight

    def try_acquire(self) -> bool:
        """Take a slot if one is free; never waits."""
        if self._inflight >= self.max_concurrent:
            return False
        self._inflight += 1
        return True

    def release(self) -> None:
        if self._inflight <= 0:
            raise RuntimeError("bulkhead released more often than acquired")
        self._inflight -= 1

    async def __aenter__(self) -> Bulkhead:
        if not self.try_acquire():
            who = self.name or "this dependency"
            raise BulkheadFull(
                f"{who} already has {self.max_concurrent} calls in flight; refusing another",
                dependency=self.name,
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
