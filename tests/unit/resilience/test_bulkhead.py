"""The bulkhead refuses at once beyond its limit and never queues."""

from __future__ import annotations

import asyncio

import pytest

from matinee.resilience.bulkhead import Bulkhead
from matinee.resilience.errors import BulkheadFull


def test_refuses_beyond_the_limit_without_waiting() -> None:
    async def main() -> None:
        bulkhead = Bulkhead(2, name="catalog")
        async with bulkhead, bulkhead:
            assert bulkhead.inflight == 2
            assert bulkhead.available == 0
            with pytest.raises(BulkheadFull, match="catalog already has 2 calls") as info:
                async with bulkhead:
                    pass
            assert info.value.dependency == "catalog"
            assert bulkhead.inflight == 2
        assert bulkhead.inflight == 0
        async with bulkhead:
            assert bulkhead.inflight == 1

    asyncio.run(main())


def test_slot_is_released_when_the_body_raises() -> None:
    async def main() -> None:
        bulkhead = Bulkhead(1)
        with pytest.raises(RuntimeError):
            async with bulkhead:
                raise RuntimeError("boom")
        assert bulkhead.inflight == 0

    asyncio.run(main())


def test_try_acquire_and_release() -> None:
    bulkhead = Bulkhead(1)
    assert bulkhead.try_acquire()
    assert not bulkhead.try_acquire()
    bulkhead.release()
    assert bulkhead.try_acquire()
    bulkhead.release()
    with pytest.raises(RuntimeError, match="released more often"):
        bulkhead.release()


def test_needs_at_least_one_slot() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Bulkhead(0)
