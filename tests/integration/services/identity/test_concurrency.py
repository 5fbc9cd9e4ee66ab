"""The identity service under concurrent requests on every database (``db_url``): one email
is one account, and five profiles stay five, however the requests race."""

from __future__ import annotations

import asyncio

import pytest

from matinee.clock import FakeClock
from matinee.db.aio import Database
from matinee.services.identity.config import HashingConfig, IdentityConfig, WindowLimit
from matinee.services.identity.devices import DeviceHint, Devices
from matinee.services.identity.errors import ProfileLimitReached, SignupRefused, UnknownSession
from matinee.services.identity.profiles import ProfileFields, Profiles
from matinee.services.identity.service import IdentityService

CONFIG = IdentityConfig(hashing=HashingConfig(memory_kib=64, time_cost=1, parallelism=1))
PASSWORD = "correct horse battery"


def test_concurrent_signups_with_one_email_make_one_account(db_url: str) -> None:
    async def main() -> None:
        db = Database(db_url)
        identity = IdentityService(db, FakeClock(1_800_000_000.0), CONFIG)
        try:
            results = await asyncio.gather(
                *(
                    identity.signup(
                        f" Ada@Example.com{' ' * i}",
                        PASSWORD,
                        "US",
                        client=f"10.0.0.{i}",
                        device=DeviceHint(),
                    )
                    for i in range(4)
                ),
                return_exceptions=True,
            )
            made = [r for r in results if not isinstance(r, BaseException)]
            refused = [r for r in results if isinstance(r, SignupRefused)]
            assert (len(made), len(refused)) == (1, 3), results
        finally:
            await db.close()

    asyncio.run(main())


def test_concurrent_profile_creation_stays_within_the_cap(db_url: str) -> None:
    async def main() -> None:
        db = Database(db_url)
        clock = FakeClock(1_800_000_000.0)
        identity = IdentityService(db, clock, CONFIG)
        profiles = Profiles(db, clock, identity, max_profiles=5)
        try:
            issued = await identity.signup(
                "ada@example.com", PASSWORD, "US", client="c", device=DeviceHint()
            )
            results = await asyncio.gather(
                *(
                    profiles.create(issued.account_id, ProfileFields(name=f"P{i}"))
                    for i in range(8)
                ),
                return_exceptions=True,
            )
            refused = [r for r in results if isinstance(r, ProfileLimitReached)]
            assert len(refused) == 3, results
            page = await profiles.list(issued.account_id, None, 100)
            assert len(page.items) == 5
            # Selecting a profile (a write that swaps the session) works on every database.
            chosen = await profiles.select(issued.account_id, issued.session_id, page.items[0].id)
            assert (await identity.validate(chosen.token)).profile_id == page.items[0].id
            with pytest.raises(UnknownSession):
                await identity.validate(issued.token)
        finally:
            await db.close()

    asyncio.run(main())


def test_concurrent_signins_right_and_wrong_do_not_deadlock(db_url: str) -> None:
    async def main() -> None:
        db = Database(db_url)
        config = IdentityConfig(hashing=CONFIG.hashing, signin_per_account=WindowLimit(100, 60.0))
        identity = IdentityService(db, FakeClock(1_800_000_000.0), config)
        try:
            for email in ("ada@example.com", "bob@example.com"):
                await identity.signup(email, PASSWORD, "US", client=email, device=DeviceHint())
            attempts = [
                identity.signin(
                    email,
                    PASSWORD if i % 3 == 0 else "a wrong guess",
                    client=f"10.0.{i % 2}.1",
                    device=DeviceHint(device_id=f"dev-{i % 4}"),
                )
                for i in range(12)
                for email in ("ada@example.com", "bob@example.com")
            ]
            results = await asyncio.gather(*attempts, return_exceptions=True)
            outcomes = sorted(type(r).__name__ for r in results)
            assert outcomes.count("IssuedSession") == 8, outcomes
            assert outcomes.count("InvalidCredentials") == 16, outcomes
        finally:
            await db.close()

    asyncio.run(main())


def test_concurrent_signins_from_one_device_share_its_record(db_url: str) -> None:
    async def main() -> None:
        db = Database(db_url)
        clock = FakeClock(1_800_000_000.0)
        identity = IdentityService(db, clock, CONFIG)
        devices = Devices(db, clock)
        tv = DeviceHint(device_id="tv-4f2a", name="TV")
        try:
            issued = await identity.signup("ada@example.com", PASSWORD, "US", client="c", device=tv)
            await asyncio.gather(
                *(
                    identity.signin("ada@example.com", PASSWORD, client="c", device=tv)
                    for _ in range(6)
                )
            )
            page = await devices.list(issued.account_id, None, 100)
            assert [d.name for d in page.items] == ["TV"]
            assert await devices.remove(issued.account_id, page.items[0].id) == 7
        finally:
            await db.close()

    asyncio.run(main())
