"""The identity store on SQLite, PostgreSQL and MariaDB (``db_url``): constraints, live
sessions, revocation, keyset pages, cascades, and the persisted login attempts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from matinee.clock import FakeClock
from matinee.db.aio import Database
from matinee.services.identity.config import WindowLimit
from matinee.services.identity.errors import TooManyAttempts
from matinee.services.identity.models import Account, Device, Profile, Session
from matinee.services.identity.pages import Cursor
from matinee.services.identity.ratelimit import AttemptLimiter
from matinee.services.identity.store import IdentityStore

T0 = datetime(2027, 1, 15, 12, 0, 0, 250_000, tzinfo=UTC)


def run(url: str, main: Callable[[Database], Awaitable[None]]) -> None:
    async def wrapped() -> None:
        db = Database(url)
        try:
            await main(db)
        finally:
            await db.close()

    asyncio.run(wrapped())


def account(n: int, email: str | None = None) -> Account:
    return Account(
        id=f"acc-{n}",
        email=email or f"user{n}@example.com",
        password_hash="$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
        country="US",
        roles=["member"],
        created_at=T0,
        password_changed_at=T0,
    )


def session(n: int, account_id: str, *, expires: datetime, **extra: object) -> Session:
    fields: dict[str, object] = {
        "id": f"ses-{n}",
        "token_hash": f"{n:064x}",
        "account_id": account_id,
        "created_at": T0,
        "expires_at": expires,
        "revoked_at": None,
        **extra,
    }
    return Session(**fields)


def device(n: int, account_id: str, at: datetime = T0) -> Device:
    return Device(
        id=f"dev-{n}",
        account_id=account_id,
        client_key=f"key-{n}",
        name=f"Device {n}",
        user_agent=None,
        created_at=at,
        last_seen_at=at,
    )


def profile(n: int, account_id: str, at: datetime = T0, name: str | None = None) -> Profile:
    return Profile(
        id=f"pro-{n}",
        account_id=account_id,
        name=name or f"Profile {n}",
        avatar="owl",
        language="en",
        maturity_level=18,
        kids=False,
        created_at=at,
    )


def test_accounts_round_trip_and_emails_are_unique(db_url: str) -> None:
    async def main(db: Database) -> None:
        async with db.write() as s:
            await IdentityStore(s).add(account(1))
        async with db.read() as s:
            store = IdentityStore(s)
            found = await store.account_by_email("user1@example.com")
            assert found is not None
            assert (found.id, found.roles, found.created_at) == ("acc-1", ["member"], T0)
            assert await store.account("acc-1", lock=False) is not None
            assert await store.account_by_email("nobody@example.com") is None
        with pytest.raises(IntegrityError):
            async with db.write() as s:
                await IdentityStore(s).add(account(2, email="user1@example.com"))

    run(db_url, main)


def test_only_live_sessions_are_found(db_url: str) -> None:
    async def main(db: Database) -> None:
        later = T0 + timedelta(days=30)
        async with db.write() as s:
            store = IdentityStore(s)
            await store.add(account(1))
            for n in (1, 2, 3):
                await store.add(session(n, "acc-1", expires=later if n != 3 else T0))
            assert await store.revoke_sessions("acc-1", T0, session_id="ses-2") == 1
        async with db.read() as s:
            store = IdentityStore(s)
            found = await store.live_session_by_token(f"{1:064x}", T0)
            assert found is not None
            assert (found[0].id, found[1].email) == ("ses-1", "user1@example.com")
            assert found[0].expires_at == later
            assert await store.live_session_by_token(f"{2:064x}", T0) is None  # revoked
            assert await store.live_session_by_token(f"{3:064x}", T0) is None  # expired
            assert await store.live_session("ses-1", later) is None  # expired by then
        with pytest.raises(IntegrityError):
            async with db.write() as s:
                await IdentityStore(s).add(
                    session(4, "acc-1", expires=later, token_hash=f"{1:064x}")
                )

    run(db_url, main)


def test_revoking_by_device_profile_and_all_but_one(db_url: str) -> None:
    async def main(db: Database) -> None:
        later = T0 + timedelta(days=30)
        async with db.write() as s:
            store = IdentityStore(s)
            for a in (1, 2):
                await store.add(account(a))
            await store.add(device(1, "acc-1"))
            await store.add(profile(1, "acc-1"))
            await store.add(session(1, "acc-1", expires=later, device_id="dev-1"))
            await store.add(session(2, "acc-1", expires=later, device_id="dev-1"))
            await store.add(session(3, "acc-1", expires=later, profile_id="pro-1"))
            await store.add(session(4, "acc-1", expires=later))
            await store.add(session(5, "acc-2", expires=later))
        async with db.write() as s:
            store = IdentityStore(s)
            assert await store.revoke_sessions("acc-1", T0, device_id="dev-1") == 2
            assert await store.revoke_sessions("acc-1", T0, profile_id="pro-1") == 1
            assert await store.revoke_sessions("acc-1", T0, keep="ses-4") == 0
            assert await store.revoke_sessions("acc-2", T0, keep="ses-4") == 1
        async with db.read() as s:
            store = IdentityStore(s)
            assert await store.live_session("ses-4", T0) is not None
            assert await store.live_session("ses-5", T0) is None

    run(db_url, main)


def test_deleting_a_device_or_profile_unlinks_its_sessions(db_url: str) -> None:
    async def main(db: Database) -> None:
        later = T0 + timedelta(days=30)
        async with db.write() as s:
            store = IdentityStore(s)
            await store.add(account(1))
            await store.add(device(1, "acc-1"))
            await store.add(profile(1, "acc-1"))
            await store.add(session(1, "acc-1", expires=later, device_id="dev-1"))
            await store.add(session(2, "acc-1", expires=later, profile_id="pro-1"))
        async with db.write() as s:
            store = IdentityStore(s)
            found_device = await store.device("acc-1", "dev-1")
            found_profile = await store.profile("pro-1", "acc-1")
            assert found_device is not None
            assert found_profile is not None
            await store.delete_device(found_device)
            await store.delete_profile(found_profile)
        async with db.read() as s:
            store = IdentityStore(s)
            first = await store.live_session("ses-1", T0)
            second = await store.live_session("ses-2", T0)
            assert first is not None
            assert second is not None
            assert (first.device_id, second.profile_id) == (None, None)

    run(db_url, main)


def test_profiles_and_devices_page_in_creation_order(db_url: str) -> None:
    async def main(db: Database) -> None:
        async with db.write() as s:
            store = IdentityStore(s)
            await store.add(account(1))
            await store.add(account(2))
            # Two share a timestamp: the id breaks the tie; microseconds are kept everywhere.
            times = [T0, T0 + timedelta(microseconds=1), T0 + timedelta(microseconds=1), T0]
            for n, at in zip((4, 3, 2, 1), times, strict=True):
                await store.add(profile(n, "acc-1", at))
                await store.add(device(n, "acc-1", at))
            await store.add(profile(9, "acc-2"))
        with pytest.raises(IntegrityError):
            async with db.write() as s:
                await IdentityStore(s).add(profile(10, "acc-1", name="Profile 1"))
        async with db.read() as s:
            store = IdentityStore(s)
            assert await store.count_profiles("acc-1") == 4
            assert await store.profile_by_name("acc-1", "Profile 3") is not None
            assert await store.profile("pro-9", "acc-1") is None
            for lister in (store.profiles, store.devices):
                seen: list[str] = []
                cursor = None
                while True:
                    page = await lister("acc-1", cursor, 3)
                    seen += [row.id[4:] for row in page.items]
                    if page.next_cursor is None:
                        break
                    cursor = Cursor.decode(page.next_cursor)
                assert seen == ["1", "4", "2", "3"]

    run(db_url, main)


def test_pruning_deletes_only_long_expired_sessions(db_url: str) -> None:
    async def main(db: Database) -> None:
        async with db.write() as s:
            store = IdentityStore(s)
            await store.add(account(1))
            await store.add(session(1, "acc-1", expires=T0 - timedelta(days=8)))
            await store.add(session(2, "acc-1", expires=T0 - timedelta(days=1)))
        async with db.write() as s:
            assert await IdentityStore(s).prune_sessions(T0 - timedelta(days=7)) == 1

    run(db_url, main)


def test_the_rate_limit_is_shared_through_the_database(db_url: str) -> None:
    async def main(db: Database) -> None:
        clock = FakeClock(T0.timestamp())
        # Two limiters: two instances of a fleet, one database.
        one, two = (
            AttemptLimiter("account", WindowLimit(3, 60.0), clock, "Too many.") for _ in range(2)
        )
        for limiter in (one, two, one):
            async with db.write() as s:
                await limiter.record(IdentityStore(s), "ada@example.com")
            clock.advance(10)
        async with db.read() as s:
            with pytest.raises(TooManyAttempts) as caught:
                await two.check(IdentityStore(s), "ada@example.com")
            assert caught.value.retry_after == pytest.approx(30)
            await two.check(IdentityStore(s), "bob@example.com")
        clock.advance(30)
        async with db.write() as s:
            store = IdentityStore(s)
            await one.check(store, "ada@example.com")
            assert await one.prune(store) == 1
            await one.clear(store, "ada@example.com")
        async with db.read() as s:
            assert await one.retry_after(IdentityStore(s), "ada@example.com") is None

    run(db_url, main)
