"""Fixtures for the playback service's unit tests: in-memory fakes of the lookups it makes
(identity, billing, catalog, media behind the ``Lookups`` protocol), leases on a fresh SQLite
database, and a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import pytest

from matinee.clock import FakeClock
from matinee.db.aio import Database
from matinee.delivery.steering import OriginOnly, Steering
from matinee.delivery.tokens import UrlSigner
from matinee.gateway.auth import Identity
from matinee.services.playback.clients import (
    Asset,
    Availability,
    Entitlement,
    Plan,
    Profile,
    Title,
    Track,
)
from matinee.services.playback.errors import DependencyUnavailable
from matinee.services.playback.leases import Leases
from matinee.services.playback.service import Client, PlaybackConfig, PlaybackService
from matinee.services.playback.store import PlaybackStore
from matinee.testing.servers import SqliteDatabases

KEY = b"playback-unit-test-signing-key-0"
NOW = 1_800_000_000.0
PLANS = {
    "basic": Plan(code="basic", name="Basic", max_streams=1, max_height=720),
    "standard": Plan(code="standard", name="Standard", max_streams=2, max_height=1080),
    "premium": Plan(code="premium", name="Premium", max_streams=4, max_height=2160),
}
# The ladder matinee's pipeline made for a 1080p master (tests/unit/delivery/data).
LADDER = [
    ("234p-145k", 416, 234),
    ("360p-365k", 640, 360),
    ("432p-730k", 768, 432),
    ("432p-1100k", 768, 432),
    ("540p-2000k", 960, 540),
    ("720p-3000k", 1280, 720),
    ("720p-4500k", 1280, 720),
    ("1080p-6000k", 1920, 1080),
    ("1080p-7800k", 1920, 1080),
]
CLIENT = Client(origin="https://matinee.example", ip="198.51.100.7")


def asset(asset_id: str = "a1", ladder: list[tuple[str, int, int]] = LADDER) -> Asset:
    tracks = [
        Track(kind="video", name=n, width=w, height=h, average_bps=h * 4000, codecs="avc1")
        for n, w, h in ladder
    ]
    tracks += [
        Track(kind="audio", name="eng-0", codecs="mp4a.40.2"),
        Track(kind="text", name="eng-0"),
    ]
    prefix = f"assets/{asset_id}"
    return Asset(
        id=asset_id,
        prefix=prefix,
        hls_key=f"{prefix}/master.m3u8",
        dash_key=f"{prefix}/manifest.mpd",
        tracks=tracks,
    )


@dataclass
class FakeLookups:
    """The other services' answers, in memory. ``down`` names lookups that fail as an
    unreachable service would; ``barrier`` makes the four start lookups wait for each other
    (proving they run concurrently)."""

    entitlements: dict[str, Entitlement] = field(default_factory=dict)
    titles: dict[str, Title] = field(default_factory=dict)
    # (title, country) -> answer; a title with no entry is available everywhere.
    availabilities: dict[tuple[str, str], Availability] = field(default_factory=dict)
    profiles: dict[str, Profile] = field(default_factory=dict)
    countries: dict[str, str] = field(default_factory=dict)
    assets: dict[str, Asset] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)
    barrier: asyncio.Barrier | None = None

    async def _enter(self, name: str) -> None:
        self.calls.append(name)
        if self.barrier is not None and name not in ("asset", "account"):
            await asyncio.wait_for(self.barrier.wait(), 1.0)
        if name in self.down:
            raise DependencyUnavailable(f"Playback cannot be checked right now ({name}).")

    async def entitlement(self, account_id: str) -> Entitlement:
        await self._enter("entitlement")
        return self.entitlements.get(account_id, Entitlement(status="none", entitled=False))

    async def title(self, title_id: str) -> Title | None:
        await self._enter("title")
        return self.titles.get(title_id)

    async def availability(self, title_id: str, country: str, at: float) -> Availability | None:
        await self._enter("availability")
        if title_id not in self.titles:
            return None
        default = Availability(available=True)
        return self.availabilities.get((title_id, country), default)

    async def profile(self, profile_id: str) -> Profile | None:
        await self._enter("profile")
        return self.profiles.get(profile_id)

    async def account_country(self, account_id: str) -> str | None:
        await self._enter("account")
        return self.countries.get(account_id)

    async def asset(self, asset_id: str) -> Asset | None:
        await self._enter("asset")
        return self.assets.get(asset_id)


def household(plan: str = "standard") -> FakeLookups:
    """An entitled household (account ``acct``, adult profile ``adult``, kids profile ``kid``)
    and published titles: ``film`` (13+), ``horror`` (18+), ``cartoon`` (0+)."""
    fake = FakeLookups()
    fake.entitlements["acct"] = Entitlement(status="active", entitled=True, plan=PLANS[plan])
    fake.profiles["adult"] = Profile(id="adult", account_id="acct", maturity_level=18)
    fake.profiles["kid"] = Profile(id="kid", account_id="acct", maturity_level=7, kids=True)
    for title_id, maturity in (("film", 13), ("horror", 18), ("cartoon", 0)):
        fake.titles[title_id] = Title(
            id=title_id, name=title_id, published=True, maturity=maturity, asset_id="a1"
        )
    fake.assets["a1"] = asset()
    return fake


def member(profile: str | None = "adult", country: str | None = "US") -> Identity:
    return Identity(
        subject="acct",
        profile=profile,
        session="s1",
        expires=NOW + 3600,
        country=country,
    )


@dataclass
class World:
    lookups: FakeLookups
    service: PlaybackService
    signer: UrlSigner
    clock: FakeClock
    config: PlaybackConfig


@pytest.fixture
def sqlite_url(sqlite_databases: SqliteDatabases) -> Iterator[str]:
    url = sqlite_databases.fresh()
    yield url
    sqlite_databases.drop(url)


WorldBody = Callable[[World], Awaitable[None]]
RunWorld = Callable[..., None]


@pytest.fixture
def run_world(sqlite_url: str) -> RunWorld:
    """Run ``body`` against a playback service over ``lookups`` on a fresh database."""

    def run(
        body: WorldBody,
        lookups: FakeLookups | None = None,
        *,
        config: PlaybackConfig | None = None,
        steering: Steering | None = None,
    ) -> None:
        async def main() -> None:
            db = Database(sqlite_url)
            clock = FakeClock(NOW)
            cfg = config or PlaybackConfig()
            signer = UrlSigner(KEY, clock)
            fake = lookups or household()
            service = PlaybackService(
                fake,
                leases=Leases(PlaybackStore(db), clock, cfg.lease_ttl_s),
                signer=signer,
                steering=steering or OriginOnly(),
                clock=clock,
                config=cfg,
            )
            try:
                await body(World(fake, service, signer, clock, cfg))
            finally:
                await db.close()

        asyncio.run(main())

    return run
