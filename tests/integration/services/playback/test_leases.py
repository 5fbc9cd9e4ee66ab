"""Stream leases on every database (``db_url``: SQLite, PostgreSQL, MariaDB): the limit, expiry,
heartbeats, stops, device reuse, and concurrent starts racing for the last stream."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from matinee.clock import FakeClock
from matinee.db.aio import Database
from matinee.services.playback.errors import LeaseExpired, LeaseNotFound, StreamLimitReached
from matinee.services.playback.leases import Grant, Leases, StreamRequest
from matinee.services.playback.store import PlaybackStore

TTL = 90.0


def request(
    account: str = "acct-1", title: str = "t1", device: str | None = None, streams: int = 2
) -> StreamRequest:
    return StreamRequest(
        account_id=account,
        profile_id=f"{account}-p1",
        title_id=title,
        max_height=1080,
        max_streams=streams,
        plan="Standard",
        device_id=device,
    )


def run(db_url: str, body: Callable[[Leases, FakeClock], Awaitable[None]]) -> None:
    async def main() -> None:
        db = Database(db_url)
        clock = FakeClock(1_800_000_000.0)
        try:
            await body(Leases(PlaybackStore(db), clock, TTL), clock)
        finally:
            await db.close()

    asyncio.run(main())


def test_the_limit_counts_live_leases(db_url: str) -> None:
    async def body(leases: Leases, clock: FakeClock) -> None:
        first = await leases.acquire(request())
        clock.advance(1)
        second = await leases.acquire(request())
        assert not first.reused
        assert first.lease.id != second.lease.id
        assert second.lease.expires_at.timestamp() == clock.time() + TTL
        with pytest.raises(StreamLimitReached) as refused:
            await leases.acquire(request())
        assert (refused.value.limit, refused.value.plan) == (2, "Standard")
        assert "Standard plan allows 2 streams" in str(refused.value)
        # Another household is not affected.
        await leases.acquire(request(account="acct-2"))
        assert [x.id for x in await leases.live("acct-1")] == [first.lease.id, second.lease.id]

    run(db_url, body)


def test_expired_leases_stop_counting(db_url: str) -> None:
    async def body(leases: Leases, clock: FakeClock) -> None:
        await leases.acquire(request(streams=1))
        clock.advance(TTL - 1)
        with pytest.raises(StreamLimitReached):
            await leases.acquire(request(streams=1))
        clock.advance(1)  # exactly at expiry the lease is gone
        assert await leases.live("acct-1") == []
        again = await leases.acquire(request(streams=1))
        assert [x.id for x in await leases.live("acct-1")] == [again.lease.id]

    run(db_url, body)


def test_heartbeats_keep_a_lease_and_expired_ones_cannot_come_back(db_url: str) -> None:
    async def body(leases: Leases, clock: FakeClock) -> None:
        grant = await leases.acquire(request(streams=1))
        for _ in range(5):
            clock.advance(TTL - 10)
            renewed = await leases.renew("acct-1", grant.lease.id)
            assert renewed.expires_at.timestamp() == clock.time() + TTL
        with pytest.raises(StreamLimitReached):
            await leases.acquire(request(streams=1))
        clock.advance(TTL)
        with pytest.raises(LeaseExpired):
            await leases.renew("acct-1", grant.lease.id)
        with pytest.raises(LeaseNotFound):
            await leases.renew("acct-1", "no-such-lease")

    run(db_url, body)


def test_a_lease_belongs_to_its_account(db_url: str) -> None:
    async def body(leases: Leases, clock: FakeClock) -> None:
        grant = await leases.acquire(request())
        with pytest.raises(LeaseNotFound):
            await leases.renew("acct-2", grant.lease.id)
        assert not await leases.release("acct-2", grant.lease.id)
        assert [x.id for x in await leases.live("acct-1")] == [grant.lease.id]

    run(db_url, body)


def test_stop_frees_the_stream(db_url: str) -> None:
    async def body(leases: Leases, clock: FakeClock) -> None:
        grant = await leases.acquire(request(streams=1))
        assert await leases.release("acct-1", grant.lease.id)
        assert not await leases.release("acct-1", grant.lease.id)
        await leases.acquire(request(streams=1))
        with pytest.raises(LeaseNotFound):
            await leases.renew("acct-1", grant.lease.id)

    run(db_url, body)


def test_a_device_restarting_a_title_reuses_its_lease(db_url: str) -> None:
    async def body(leases: Leases, clock: FakeClock) -> None:
        tv = await leases.acquire(request(device="tv", streams=1))
        clock.advance(30)
        again = await leases.acquire(request(device="tv", streams=1))
        assert again.reused
        assert again.lease.id == tv.lease.id
        assert again.lease.expires_at.timestamp() == clock.time() + TTL
        # Another title on the same device replaces the stream instead of adding one.
        other = await leases.acquire(request(device="tv", title="t2", streams=1))
        assert not other.reused
        assert [(x.id, x.title_id) for x in await leases.live("acct-1")] == [(other.lease.id, "t2")]
        # Another device is another stream.
        with pytest.raises(StreamLimitReached):
            await leases.acquire(request(device="phone", streams=1))
        # Without a device id nothing is reused.
        with pytest.raises(StreamLimitReached):
            await leases.acquire(request(title="t2", streams=1))

    run(db_url, body)


def test_sweep_deletes_long_expired_leases_of_every_account(db_url: str) -> None:
    async def body(leases: Leases, clock: FakeClock) -> None:
        old = await leases.acquire(request(account="a"))
        await leases.acquire(request(account="b"))
        clock.advance(TTL + 3600)
        fresh = await leases.acquire(request(account="c"))
        assert await leases.sweep(grace=600) == 2
        with pytest.raises(LeaseNotFound):  # swept: no longer "expired", simply gone
            await leases.renew("a", old.lease.id)
        assert [x.id for x in await leases.live("c")] == [fresh.lease.id]

    run(db_url, body)


@pytest.mark.parametrize("streams", [1, 2, 4])
def test_concurrent_starts_take_exactly_the_limit(db_url: str, streams: int) -> None:
    """Twelve starts at once, spread over three instances (engines, stores) that have never
    seen the account: exactly ``streams`` of them get a lease."""

    async def main() -> None:
        clock = FakeClock(1_800_000_000.0)
        dbs = [Database(db_url) for _ in range(3)]
        instances = [Leases(PlaybackStore(db), clock, TTL) for db in dbs]
        try:

            async def start(n: int) -> Grant | None:
                try:
                    return await instances[n % 3].acquire(request(account="race", streams=streams))
                except StreamLimitReached:
                    return None

            results = await asyncio.gather(*(start(n) for n in range(12)))
            granted = [r for r in results if r is not None]
            assert len(granted) == streams
            live = await instances[0].live("race")
            assert sorted(x.id for x in live) == sorted(g.lease.id for g in granted)
            # And again, now that the lock row exists and the account is at its limit.
            assert not any(await asyncio.gather(*(start(n) for n in range(6))))
        finally:
            for db in dbs:
                await db.close()

    asyncio.run(main())
