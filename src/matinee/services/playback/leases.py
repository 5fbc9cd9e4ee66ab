"""Stream leases: how many streams an account has playing, and the plan's limit on them.

A lease is taken when a play starts, lives ``ttl`` seconds, is renewed by each heartbeat and
released by a stop. A player that vanishes without stopping stops counting once its lease
expires, so a crashed device never blocks its household for more than ``ttl``.

Rules of :meth:`Leases.acquire`, all inside one transaction holding the account's lock:

* expired leases are deleted, and never count;
* the same device starting the same title again gets its own lease back, renewed (a reload or
  a retried start never takes a second stream);
* the same device starting another title gives up its old lease first (one device, one stream);
* otherwise a new lease is taken only while fewer than the plan's ``max_streams`` are live.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from matinee.clock import Clock
from matinee.services.playback.errors import StreamLimitReached
from matinee.services.playback.models import StreamLease
from matinee.services.playback.store import Lease, PlaybackStore


@dataclass(frozen=True, slots=True)
class StreamRequest:
    """Who wants to play what, on which device, under which plan limits."""

    account_id: str
    profile_id: str
    title_id: str
    max_height: int
    max_streams: int
    plan: str
    device_id: str | None = None


@dataclass(frozen=True, slots=True)
class Grant:
    """The lease a start got; ``reused`` when it was this device's lease for this title."""

    lease: Lease
    reused: bool


class Leases:
    """Stream leases of ``ttl`` seconds in ``store``, timed by ``clock``."""

    def __init__(self, store: PlaybackStore, clock: Clock, ttl: float) -> None:
        if ttl <= 0:
            raise ValueError("a lease needs a positive time to live")
        self.store = store
        self.clock = clock
        self.ttl = ttl

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.time(), UTC)

    async def acquire(self, request: StreamRequest) -> Grant:
        """A lease for this stream, or StreamLimitReached."""
        now = self.now()
        until = now + timedelta(seconds=self.ttl)
        async with self.store.locked(request.account_id, now) as account:
            await account.purge_expired(now)
            live = await account.live(now)
            if request.device_id is not None:
                for lease in [x for x in live if x.device_id == request.device_id]:
                    if lease.title_id == request.title_id:
                        lease.profile_id = request.profile_id
                        lease.max_height = request.max_height
                        lease.renewed_at = now
                        lease.expires_at = until
                        return Grant(Lease.of(lease), reused=True)
                    await account.remove(lease)
                    live.remove(lease)
            if len(live) >= request.max_streams:
                raise StreamLimitReached(request.max_streams, request.plan)
            row = StreamLease(
                id=str(uuid.uuid4()),
                account_id=request.account_id,
                profile_id=request.profile_id,
                device_id=request.device_id,
                title_id=request.title_id,
                max_height=request.max_height,
                created_at=now,
                renewed_at=now,
                expires_at=until,
            )
            account.add(row)
            return Grant(Lease.of(row), reused=False)

    async def renew(self, account_id: str, lease_id: str) -> Lease:
        """Another ``ttl`` for a live lease (LeaseNotFound, LeaseExpired otherwise)."""
        now = self.now()
        return await self.store.renew(account_id, lease_id, now, now + timedelta(seconds=self.ttl))

    async def release(self, account_id: str, lease_id: str) -> bool:
        """End a lease; False if the account had no such lease (already stopped or expired)."""
        return await self.store.release(account_id, lease_id)

    async def live(self, account_id: str) -> Sequence[Lease]:
        return await self.store.live(account_id, self.now())

    async def sweep(self, grace: float) -> int:
        """Delete leases of every account that expired more than ``grace`` seconds ago."""
        return await self.store.sweep(self.now() - timedelta(seconds=grace))
