"""Persistence of stream leases.

:meth:`PlaybackStore.locked` opens one write transaction that holds the account's lock row, so
whatever runs inside (count the live leases, then insert one) is never interleaved with another
start of the same account, on any database:

* PostgreSQL and MySQL/MariaDB: ``SELECT ... FOR UPDATE`` on the ``playback_accounts`` row
  (READ COMMITTED on MySQL, so the leases read after the lock include the ones committed while
  waiting for it);
* SQLite: ``BEGIN IMMEDIATE`` (``Database.write``) already lets one writer in at a time.

The lock row is created once per account, in a transaction of its own with an insert that
ignores a duplicate (two first starts racing both succeed; neither holds the other's lock).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from matinee.db.aio import Database
from matinee.services.playback.errors import LeaseExpired, LeaseNotFound
from matinee.services.playback.models import PlaybackAccount, StreamLease

KNOWN_ACCOUNTS = 100_000  # lock rows this instance knows exist (they are never deleted)


@dataclass(frozen=True, slots=True)
class Lease:
    """A stream lease as read from the database."""

    id: str
    account_id: str
    profile_id: str
    device_id: str | None
    title_id: str
    max_height: int
    created_at: datetime
    renewed_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, row: StreamLease) -> Lease:
        return cls(
            row.id,
            row.account_id,
            row.profile_id,
            row.device_id,
            row.title_id,
            row.max_height,
            row.created_at,
            row.renewed_at,
            row.expires_at,
        )


class LockedAccount:
    """One account's leases, inside a transaction that holds the account's lock."""

    def __init__(self, session: AsyncSession, account_id: str) -> None:
        self.session = session
        self.account_id = account_id

    async def purge_expired(self, now: datetime) -> int:
        """Delete the account's leases that expired at or before ``now``."""
        result = await self.session.execute(
            delete(StreamLease).where(
                StreamLease.account_id == self.account_id, StreamLease.expires_at <= now
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def live(self, now: datetime) -> list[StreamLease]:
        """The account's leases that have not expired, oldest first."""
        stmt = (
            select(StreamLease)
            .where(StreamLease.account_id == self.account_id, StreamLease.expires_at > now)
            .order_by(StreamLease.created_at, StreamLease.id)
        )
        return list((await self.session.scalars(stmt)).all())

    def add(self, lease: StreamLease) -> None:
        self.session.add(lease)

    async def remove(self, lease: StreamLease) -> None:
        await self.session.delete(lease)


class PlaybackStore:
    """Stream leases in the service's relational database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._known: OrderedDict[str, None] = OrderedDict()

    def _insert_ignoring_duplicates(self, account_id: str, now: datetime) -> Insert:
        values = {"account_id": account_id, "created_at": now}
        if self.db.dialect == "postgresql":
            return postgresql.insert(PlaybackAccount).values(values).on_conflict_do_nothing()
        if self.db.dialect == "mysql":
            return mysql.insert(PlaybackAccount).values(values).prefix_with("IGNORE")
        return sqlite.insert(PlaybackAccount).values(values).on_conflict_do_nothing()

    async def _ensure_account(self, account_id: str, now: datetime) -> None:
        if account_id in self._known:
            self._known.move_to_end(account_id)
            return
        async with self.db.write() as session:
            await session.execute(self._insert_ignoring_duplicates(account_id, now))
        self._known[account_id] = None
        while len(self._known) > KNOWN_ACCOUNTS:
            self._known.popitem(last=False)

    @asynccontextmanager
    async def locked(self, account_id: str, now: datetime) -> AsyncIterator[LockedAccount]:
        """A write transaction holding ``account_id``'s lock; committed on a clean exit."""
        await self._ensure_account(account_id, now)
        async with self.db.write() as session:
            if self.db.dialect == "mysql":
                await session.connection(execution_options={"isolation_level": "READ COMMITTED"})
            lock = select(PlaybackAccount.account_id).where(
                PlaybackAccount.account_id == account_id
            )
            await session.execute(lock.with_for_update())
            yield LockedAccount(session, account_id)

    async def renew(self, account_id: str, lease_id: str, now: datetime, until: datetime) -> Lease:
        """Move a live lease's expiry to ``until``; LeaseNotFound (none of this account's),
        LeaseExpired (it lapsed: its stream may already be someone else's)."""
        async with self.db.write() as session:
            row = await session.get(StreamLease, lease_id, with_for_update=True)
            if row is None or row.account_id != account_id:
                raise LeaseNotFound("There is no such stream: start playback again.")
            if row.expires_at <= now:
                raise LeaseExpired("This stream stopped sending heartbeats in time: start again.")
            row.renewed_at = now
            row.expires_at = until
            return Lease.of(row)

    async def release(self, account_id: str, lease_id: str) -> bool:
        """Delete one of the account's leases; False when there was none."""
        async with self.db.write() as session:
            result = await session.execute(
                delete(StreamLease).where(
                    StreamLease.id == lease_id, StreamLease.account_id == account_id
                )
            )
            return bool(getattr(result, "rowcount", 0))

    async def live(self, account_id: str, now: datetime) -> Sequence[Lease]:
        """The account's live leases, oldest first."""
        async with self.db.read() as session:
            stmt = (
                select(StreamLease)
                .where(StreamLease.account_id == account_id, StreamLease.expires_at > now)
                .order_by(StreamLease.created_at, StreamLease.id)
            )
            return [Lease.of(row) for row in (await session.scalars(stmt)).all()]

    async def sweep(self, before: datetime) -> int:
        """Delete every account's leases that expired before ``before``."""
        async with self.db.write() as session:
            result = await session.execute(
                delete(StreamLease).where(StreamLease.expires_at < before)
            )
            return int(getattr(result, "rowcount", 0) or 0)
