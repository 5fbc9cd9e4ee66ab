"""Fixtures for the identity service's unit tests: a migrated SQLite database per test, a fake
clock, and services with cheap password hashing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest

from matinee.clock import FakeClock
from matinee.db.aio import Database
from matinee.services.identity.config import HashingConfig, IdentityConfig, WindowLimit
from matinee.services.identity.devices import DeviceHint, Devices
from matinee.services.identity.profiles import Profiles
from matinee.services.identity.service import IdentityService
from matinee.testing.servers import SqliteDatabases

CHEAP = HashingConfig(memory_kib=64, time_cost=1, parallelism=1)
PASSWORD = "correct horse battery"
BROWSER = DeviceHint(user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")


def config(**overrides: object) -> IdentityConfig:
    fields: dict[str, object] = {
        "hashing": CHEAP,
        "signin_per_account": WindowLimit(3, 600.0),
        "signin_per_client": WindowLimit(5, 600.0),
        "signup_per_client": WindowLimit(4, 3600.0),
        **overrides,
    }
    return IdentityConfig(**fields)  # type: ignore[arg-type]


@pytest.fixture
def sqlite_url(sqlite_databases: SqliteDatabases) -> Iterator[str]:
    url = sqlite_databases.fresh()
    yield url
    sqlite_databases.drop(url)


@dataclass
class World:
    """One identity service (and its profiles and devices) on a fresh database."""

    db: Database
    clock: FakeClock
    identity: IdentityService
    profiles: Profiles
    devices: Devices


@pytest.fixture
def world(sqlite_url: str) -> World:
    clock = FakeClock(1_800_000_000.0)
    return open_world(sqlite_url, clock, config())


def open_world(url: str, clock: FakeClock, cfg: IdentityConfig) -> World:
    db = Database(url)
    identity = IdentityService(db, clock, cfg)
    return World(
        db, clock, identity, Profiles(db, clock, identity, cfg.max_profiles), Devices(db, clock)
    )


def run(world: World, main: Callable[[World], Awaitable[None]]) -> None:
    """Run ``main(world)`` in a new event loop, closing the database's pool at the end."""

    async def wrapped() -> None:
        try:
            await main(world)
        finally:
            await world.db.close()

    asyncio.run(wrapped())
