"""Persistence for the identity service: queries over one :class:`AsyncSession`.

The service opens the session (``Database.read()`` or ``write()``) and decides what one
transaction holds; this module only knows the tables. Every list is a keyset page
(``pages.py``); "live" sessions are those neither revoked nor expired at the ``now`` given.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from matinee.services.identity.models import Account, Device, LoginAttempt, Profile, Session
from matinee.services.identity.pages import Cursor, Page, after, page_of


class IdentityStore:
    """Accounts, sessions, devices, profiles and counted attempts in one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: Account | Profile | Device | Session) -> None:
        """Insert ``row`` now (so a unique constraint fails here, not at commit)."""
        self.session.add(row)
        await self.session.flush()

    # Accounts

    async def account(self, account_id: str, *, lock: bool = False) -> Account | None:
        """The account, row-locked until the transaction ends when ``lock`` (SQLite's
        ``BEGIN IMMEDIATE`` already serializes writers, so it ignores the lock)."""
        query = select(Account).where(Account.id == account_id)
        if lock:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def account_by_email(self, email: str) -> Account | None:
        query = select(Account).where(Account.email == email)
        return (await self.session.execute(query)).scalar_one_or_none()

    # Sessions

    async def live_session_by_token(
        self, token_hash: str, now: datetime
    ) -> tuple[Session, Account] | None:
        query = (
            select(Session, Account)
            .join(Account, Account.id == Session.account_id)
            .where(
                Session.token_hash == token_hash,
                Session.revoked_at.is_(None),
                Session.expires_at > now,
            )
        )
        row = (await self.session.execute(query)).first()
        return None if row is None else (row[0], row[1])

    async def live_session(self, session_id: str, now: datetime) -> Session | None:
        query = select(Session).where(
            Session.id == session_id, Session.revoked_at.is_(None), Session.expires_at > now
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    @staticmethod
    def _live_of(  # noqa: PLR0917 - the filters of revoke_sessions, passed on as they are
        account_id: str,
        now: datetime,
        session_id: str | None,
        keep: str | None,
        device_id: str | None,
        profile_id: str | None,
    ) -> list[ColumnElement[bool]]:
        conditions = [
            Session.account_id == account_id,
            Session.revoked_at.is_(None),
            Session.expires_at > now,
        ]
        if session_id is not None:
            conditions.append(Session.id == session_id)
        if keep is not None:
            conditions.append(Session.id != keep)
        if device_id is not None:
            conditions.append(Session.device_id == device_id)
        if profile_id is not None:
            conditions.append(Session.profile_id == profile_id)
        return conditions

    async def revoke_sessions(
        self,
        account_id: str,
        now: datetime,
        *,
        session_id: str | None = None,
        keep: str | None = None,
        device_id: str | None = None,
        profile_id: str | None = None,
    ) -> int:
        """Revoke the account's live sessions (only ``session_id``, or those of ``device_id``
        or ``profile_id`` when given; all but ``keep``). Returns how many were revoked."""
        conditions = self._live_of(account_id, now, session_id, keep, device_id, profile_id)
        result = await self.session.execute(
            update(Session).where(*conditions).values(revoked_at=now)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def end_sessions(
        self,
        account_id: str,
        now: datetime,
        *,
        session_id: str | None = None,
        keep: str | None = None,
        device_id: str | None = None,
        profile_id: str | None = None,
    ) -> list[str]:
        """:meth:`revoke_sessions`, returning the token hashes of the sessions it ended (so
        the session cache can forget them). The rows are locked as they are read."""
        conditions = self._live_of(account_id, now, session_id, keep, device_id, profile_id)
        query = select(Session.id, Session.token_hash).where(*conditions).with_for_update()
        rows = (await self.session.execute(query)).all()
        if rows:
            ids = [row[0] for row in rows]
            await self.session.execute(
                update(Session).where(Session.id.in_(ids)).values(revoked_at=now)
            )
        return [row[1] for row in rows]

    async def prune_sessions(self, before: datetime) -> int:
        """Delete sessions that expired before ``before`` (revoked or not)."""
        result = await self.session.execute(delete(Session).where(Session.expires_at < before))
        return int(result.rowcount)  # type: ignore[attr-defined]

    # Devices

    async def device(self, account_id: str, device_id: str) -> Device | None:
        query = select(Device).where(Device.id == device_id, Device.account_id == account_id)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def device_by_key(
        self, account_id: str, client_key: str, *, lock: bool = False
    ) -> Device | None:
        """The device with this client key; ``lock`` makes it a locking read, which also sees
        rows committed after this transaction's snapshot (MySQL's REPEATABLE READ)."""
        query = select(Device).where(
            Device.account_id == account_id, Device.client_key == client_key
        )
        if lock:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def add_device(self, device: Device) -> Device | None:
        """Insert ``device``; None (and nothing inserted) when its client key is taken."""
        try:
            async with self.session.begin_nested():
                self.session.add(device)
        except IntegrityError:
            return None
        return device

    async def devices(self, account_id: str, cursor: Cursor | None, limit: int) -> Page[Device]:
        query = select(Device).where(Device.account_id == account_id)
        clause = after(cursor, Device.created_at, Device.id)
        if clause is not None:
            query = query.where(clause)
        query = query.order_by(Device.created_at, Device.id).limit(limit + 1)
        return page_of(list((await self.session.execute(query)).scalars()), limit)

    async def delete_device(self, device: Device) -> None:
        await self.session.delete(device)
        await self.session.flush()

    # Profiles

    async def profile(self, profile_id: str, account_id: str | None = None) -> Profile | None:
        """The profile (only when it belongs to ``account_id``, if given)."""
        query = select(Profile).where(Profile.id == profile_id)
        if account_id is not None:
            query = query.where(Profile.account_id == account_id)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def profile_by_name(self, account_id: str, name: str) -> Profile | None:
        query = select(Profile).where(Profile.account_id == account_id, Profile.name == name)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def count_profiles(self, account_id: str) -> int:
        query = select(func.count()).select_from(Profile).where(Profile.account_id == account_id)
        return int((await self.session.execute(query)).scalar_one())

    async def profiles(self, account_id: str, cursor: Cursor | None, limit: int) -> Page[Profile]:
        query = select(Profile).where(Profile.account_id == account_id)
        clause = after(cursor, Profile.created_at, Profile.id)
        if clause is not None:
            query = query.where(clause)
        query = query.order_by(Profile.created_at, Profile.id).limit(limit + 1)
        return page_of(list((await self.session.execute(query)).scalars()), limit)

    async def delete_profile(self, profile: Profile) -> None:
        await self.session.delete(profile)
        await self.session.flush()

    # Counted attempts (the login rate limit)

    async def add_attempt(self, scope: str, key: str, at: datetime) -> None:
        self.session.add(LoginAttempt(scope=scope, key=key, at=at))
        await self.session.flush()

    async def attempts_since(self, scope: str, key: str, since: datetime) -> Sequence[datetime]:
        """When each attempt after ``since`` was made, oldest first."""
        query = (
            select(LoginAttempt.at)
            .where(LoginAttempt.scope == scope, LoginAttempt.key == key, LoginAttempt.at > since)
            .order_by(LoginAttempt.at)
        )
        return list((await self.session.execute(query)).scalars())

    async def clear_attempts(
        self, scope: str, key: str | None = None, before: datetime | None = None
    ) -> int:
        """Delete the attempts of ``scope`` (of ``key`` only, made before ``before`` only)."""
        query = delete(LoginAttempt).where(LoginAttempt.scope == scope)
        if key is not None:
            query = query.where(LoginAttempt.key == key)
        if before is not None:
            query = query.where(LoginAttempt.at <= before)
        result = await self.session.execute(query)
        return int(result.rowcount)  # type: ignore[attr-defined]
