"""Session validation through the sessions cache: TTLs on the fake clock, and every kind of
revocation refused at once even though the session was cached."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from matinee.cache import Cache, open_cache
from matinee.clock import FakeClock
from matinee.db.aio import Database
from matinee.services.identity.devices import DeviceHint, Devices
from matinee.services.identity.errors import UnknownSession
from matinee.services.identity.profiles import ProfileFields, Profiles
from matinee.services.identity.service import IdentityService
from matinee.services.identity.session_cache import MAX_TTL_S, SessionCache
from matinee.telemetry.metrics import Registry

from .conftest import BROWSER, PASSWORD, config


@dataclass
class Cached:
    """An identity service whose validation reads through an in-process sessions cache."""

    db: Database
    clock: FakeClock
    identity: IdentityService
    profiles: Profiles
    devices: Devices
    cache: Cache
    metrics: Registry

    def lookups(self, result: str) -> float:
        return self.metrics.counter("cache.lookups", cache="sessions", result=result).value


@pytest.fixture
def cached(sqlite_url: str) -> Cached:
    clock = FakeClock(1_800_000_000.0)
    metrics = Registry(clock)
    cache = open_cache("memory://", name="sessions", clock=clock, metrics=metrics)
    sessions = SessionCache(cache, clock, metrics=metrics)
    db = Database(sqlite_url)
    identity = IdentityService(db, clock, config(session_ttl_s=3600.0), sessions=sessions)
    profiles = Profiles(db, clock, identity)
    return Cached(db, clock, identity, profiles, Devices(db, clock, sessions), cache, metrics)


def go(world: Cached, main: Callable[[Cached], Awaitable[None]]) -> None:
    async def wrapped() -> None:
        try:
            await main(world)
        finally:
            await world.db.close()

    asyncio.run(wrapped())


def hint(device: str) -> DeviceHint:
    return DeviceHint(device_id=device, name=device, user_agent=BROWSER.user_agent)


async def signup(w: Cached, email: str = "ada@example.com", device: str = "tv") -> str:
    issued = await w.identity.signup(email, PASSWORD, "gb", client="10.0.0.1", device=hint(device))
    return issued.token


async def signin(w: Cached, email: str = "ada@example.com", device: str = "phone") -> str:
    issued = await w.identity.signin(email, PASSWORD, client="10.0.0.1", device=hint(device))
    return issued.token


async def cached_then_refused(
    w: Cached, token: str, revoke: Callable[[], Awaitable[object]]
) -> None:
    await w.identity.validate(token)
    hits = w.lookups("hit")
    await w.identity.validate(token)
    assert w.lookups("hit") == hits + 1  # answered from the cache
    await revoke()
    with pytest.raises(UnknownSession):
        await w.identity.validate(token)  # at once: no TTL to wait for


def test_answers_are_cached_at_most_a_minute(cached: Cached) -> None:
    async def main(w: Cached) -> None:
        token = await signup(w)
        first = await w.identity.validate(token)
        assert await w.identity.validate(token) == first
        assert (w.lookups("miss"), w.lookups("hit")) == (1, 1)
        w.clock.advance(MAX_TTL_S + 1)
        assert await w.identity.validate(token) == first
        assert w.lookups("miss") == 2  # expired from the cache, read again

    go(cached, main)


def test_never_past_the_sessions_own_end(cached: Cached) -> None:
    async def main(w: Cached) -> None:
        token = await signup(w)
        w.clock.advance(3600.0 - 20)  # 20 s of the session left
        await w.identity.validate(token)
        digest = hashlib.sha256(token.encode()).hexdigest()
        assert await w.cache.get(f"token:{digest}") is not None
        w.clock.advance(21)
        assert await w.cache.get(f"token:{digest}") is None
        with pytest.raises(UnknownSession):
            await w.identity.validate(token)

    go(cached, main)


def test_sign_out_is_refused_at_once(cached: Cached) -> None:
    async def main(w: Cached) -> None:
        token = await signup(w)
        info = await w.identity.validate(token)

        async def revoke() -> None:
            await w.identity.signout(info.account_id, info.session_id)

        await cached_then_refused(w, token, revoke)

    go(cached, main)


def test_a_password_change_ends_every_other_cached_session(cached: Cached) -> None:
    async def main(w: Cached) -> None:
        mine = await signup(w)
        other = await signin(w)
        me = await w.identity.validate(mine)

        async def revoke() -> None:
            ended = await w.identity.change_password(
                me.account_id, me.session_id, PASSWORD, "a brand new passphrase"
            )
            assert ended == 1

        await cached_then_refused(w, other, revoke)
        assert (await w.identity.validate(mine)).session_id == me.session_id

    go(cached, main)


def test_removing_a_device_ends_its_cached_sessions(cached: Cached) -> None:
    async def main(w: Cached) -> None:
        await signup(w)
        phone = await signin(w, device="phone")
        info = await w.identity.validate(phone)
        devices = await w.devices.list(info.account_id, None, 10)
        (device,) = [d for d in devices.items if d.name == "phone"]

        async def revoke() -> None:
            assert await w.devices.remove(info.account_id, device.id) == 1

        await cached_then_refused(w, phone, revoke)

    go(cached, main)


def test_selecting_or_deleting_a_profile_ends_the_cached_session(cached: Cached) -> None:
    async def main(w: Cached) -> None:
        token = await signup(w)
        info = await w.identity.validate(token)
        fields = ProfileFields(name="Kid", kids=True)
        kid = await w.profiles.create(info.account_id, fields)
        chosen: list[str] = []

        async def select() -> None:
            issued = await w.profiles.select(info.account_id, info.session_id, kid.id)
            chosen.append(issued.token)

        await cached_then_refused(w, token, select)

        async def delete() -> None:
            await w.profiles.delete(info.account_id, kid.id)

        await cached_then_refused(w, chosen[0], delete)

    go(cached, main)


def test_a_slow_validation_cannot_bring_back_a_revoked_session(cached: Cached) -> None:
    """A validation that read the session live, and stores its answer after the revocation
    marked it, leaves the marker in place."""

    async def main(w: Cached) -> None:
        token = await signup(w)
        info = await w.identity.validate(token)
        digest = hashlib.sha256(token.encode()).hexdigest()
        answer = await w.identity.sessions.lookup(digest)
        assert answer is not None
        await w.identity.signout(info.account_id, info.session_id)
        await w.identity.sessions.remember(digest, answer)  # the late store of a slow reader
        assert await w.identity.sessions.lookup(digest) is None
        with pytest.raises(UnknownSession):
            await w.identity.validate(token)

    go(cached, main)
