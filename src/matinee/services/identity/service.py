"""Accounts, sign-in and sessions: the identity service's logic, free of HTTP.

Sessions are opaque random tokens; only their SHA-256 is stored, so a copy of the database
signs nobody in. A session ends when it expires or is revoked (sign-out, a password change for
every other session, a device removed, a profile switched or deleted). The gateway caches a
token's validation for a few seconds (``gateway/validator.py``), so elsewhere a revocation takes
effect within that time; the identity service's own routes check the session on every request.
Validation answers are also kept in the ``sessions`` cache (``session_cache.py``); every
revocation marks the sessions it ended there before it returns, so the validate endpoint
refuses them at once.

Password hashing (tens of milliseconds) always runs outside any database transaction.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from matinee.clock import Clock
from matinee.db.aio import Database
from matinee.services.identity.config import IdentityConfig
from matinee.services.identity.countries import normalize_country
from matinee.services.identity.devices import DeviceHint, record_device
from matinee.services.identity.errors import (
    AccountNotFound,
    InvalidCredentials,
    NotSignedIn,
    SignupRefused,
    UnknownSession,
    WrongPassword,
)
from matinee.services.identity.models import Account, Session
from matinee.services.identity.passwords import Hasher, normalize_email, normalize_password
from matinee.services.identity.ratelimit import ACCOUNT, CLIENT, SIGNUP, AttemptLimiter
from matinee.services.identity.session_cache import CachedSession, SessionCache
from matinee.services.identity.store import IdentityStore

MEMBER = "member"
ADMIN = "admin"
TOO_MANY = "Too many sign-in attempts. Please wait a little and try again."


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class IssuedSession:
    """A new session: ``token`` is shown once, to its owner, and never stored."""

    token: str
    session_id: str
    account_id: str
    profile_id: str | None
    expires_at: datetime


@dataclass(frozen=True)
class SessionInfo:
    """Whom a live session belongs to (the validation answer the gateway signs)."""

    account_id: str
    profile_id: str | None
    roles: tuple[str, ...]
    session_id: str
    expires_at: datetime
    country: str


class IdentityService:
    """Sign-up, sign-in, sign-out, password changes, session validation."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        config: IdentityConfig | None = None,
        *,
        sessions: SessionCache | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.config = config or IdentityConfig()
        self.sessions = sessions or SessionCache(None, clock)
        self.hasher = Hasher(self.config.hashing)
        cfg = self.config
        self.per_account = AttemptLimiter(ACCOUNT, cfg.signin_per_account, clock, TOO_MANY)
        self.per_client = AttemptLimiter(CLIENT, cfg.signin_per_client, clock, TOO_MANY)
        self.signups = AttemptLimiter(
            SIGNUP,
            cfg.signup_per_client,
            clock,
            "Too many sign-ups from this address. Please wait a little and try again.",
        )

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.time(), UTC)

    def _expiry(self) -> datetime:
        # Whole seconds: every database stores them exactly, and they are what clients see.
        expires = math.floor(self.clock.time() + self.config.session_ttl_s)
        return datetime.fromtimestamp(expires, UTC)

    # Accounts

    async def create_account(
        self, email: str, password: str, country: str, *, roles: tuple[str, ...] = (MEMBER,)
    ) -> Account:
        """A new account; :class:`SignupRefused` (which does not say why) if the email is taken."""
        email, password = normalize_email(email), normalize_password(password)
        country = normalize_country(country)
        hashed = await self.hasher.hash(password)
        now = self.now()
        account = Account(
            id=new_id(),
            email=email,
            password_hash=hashed,
            country=country,
            roles=list(roles),
            created_at=now,
            password_changed_at=now,
        )
        try:
            async with self.db.write() as s:
                store = IdentityStore(s)
                if await store.account_by_email(email) is not None:
                    raise SignupRefused(_REFUSED)
                await store.add(account)
        except IntegrityError as exc:  # a concurrent sign-up with the same email won
            raise SignupRefused(_REFUSED) from exc
        return account

    async def signup(
        self, email: str, password: str, country: str, *, client: str, device: DeviceHint
    ) -> IssuedSession:
        """Create a member account and sign it in (limited per client address)."""
        async with self.db.read() as s:
            await self.signups.check(IdentityStore(s), client)
        async with self.db.write() as s:
            await self.signups.record(IdentityStore(s), client)
        account = await self.create_account(email, password, country)
        async with self.db.write() as s:
            return await self._issue(IdentityStore(s), account, device)

    async def account(self, account_id: str) -> Account:
        async with self.db.read() as s:
            account = await IdentityStore(s).account(account_id)
        if account is None:
            raise AccountNotFound("There is no such account.")
        return account

    # Sessions

    async def signin(
        self, email: str, password: str, *, client: str, device: DeviceHint
    ) -> IssuedSession:
        """A new session for the right email and password. An unknown email and a wrong
        password fail alike (same message, same hashing work); failures count against the
        email address and the client address, and either limit answers 429."""
        email = normalize_email(email)
        async with self.db.read() as s:
            store = IdentityStore(s)
            await self.per_account.check(store, email)
            await self.per_client.check(store, client)
            account = await store.account_by_email(email)
        if account is None:
            await self.hasher.burn(password)
            ok = False
        else:
            ok = await self.hasher.verify(account.password_hash, password)
        if not ok or account is None:

            async def failed(s: AsyncSession) -> None:
                store = IdentityStore(s)
                await self.per_account.record(store, email)
                await self.per_client.record(store, client)

            await self.db.transaction(failed)  # concurrent sign-ins may deadlock: run again
            raise InvalidCredentials("The email or password is not right.")
        rehashed = None
        if self.hasher.needs_rehash(account.password_hash):
            rehashed = await self.hasher.hash(password)
        known = account

        async def issue(s: AsyncSession) -> IssuedSession:
            store = IdentityStore(s)
            await self.per_account.clear(store, email)
            if rehashed is not None:
                fresh = await store.account(known.id)
                if fresh is not None and fresh.password_hash == known.password_hash:
                    fresh.password_hash = rehashed
            return await self._issue(store, known, device)

        return await self.db.transaction(issue)

    async def _issue(
        self, store: IdentityStore, account: Account, device: DeviceHint
    ) -> IssuedSession:
        recorded = await record_device(store, account.id, device, self.now())
        return await self._session(store, account.id, recorded.id, None, self._expiry())

    async def reissue(
        self, store: IdentityStore, old: Session, *, profile_id: str | None
    ) -> IssuedSession:
        """A new token for ``old``'s account and device, ending when ``old`` would have,
        bound to ``profile_id`` (the caller revokes ``old``)."""
        return await self._session(store, old.account_id, old.device_id, profile_id, old.expires_at)

    async def _session(
        self,
        store: IdentityStore,
        account_id: str,
        device_id: str | None,
        profile_id: str | None,
        expires_at: datetime,
    ) -> IssuedSession:
        token = secrets.token_urlsafe(32)
        session = Session(
            id=new_id(),
            token_hash=hash_token(token),
            account_id=account_id,
            profile_id=profile_id,
            device_id=device_id,
            created_at=self.now(),
            expires_at=expires_at,
            revoked_at=None,
        )
        await store.add(session)
        return IssuedSession(token, session.id, account_id, profile_id, expires_at)

    async def validate(self, token: str) -> SessionInfo:
        """Whom ``token`` belongs to; :class:`UnknownSession` if unknown, expired or revoked.
        Read through the sessions cache (see ``session_cache.py``)."""
        digest = hash_token(token)
        cached = await self.sessions.lookup(digest)
        if cached is not None:
            return _info_of(cached)
        async with self.db.read() as s:
            found = await IdentityStore(s).live_session_by_token(digest, self.now())
        if found is None:
            raise UnknownSession("The session is unknown or has ended.")
        session, account = found
        info = SessionInfo(
            account_id=account.id,
            profile_id=session.profile_id,
            roles=tuple(account.roles),
            session_id=session.id,
            expires_at=session.expires_at,
            country=account.country,
        )
        await self.sessions.remember(digest, _cached_of(info))
        return info

    async def live_session(self, account_id: str, session_id: str | None) -> Session:
        """The caller's session if it is still live (the gateway's answer may be seconds old);
        :class:`NotSignedIn` otherwise."""
        if session_id is not None:
            async with self.db.read() as s:
                session = await IdentityStore(s).live_session(session_id, self.now())
            if session is not None and session.account_id == account_id:
                return session
        raise NotSignedIn("Your session has ended; sign in again.")

    async def signout(self, account_id: str, session_id: str) -> None:
        async with self.db.write() as s:
            ended = await IdentityStore(s).end_sessions(
                account_id, self.now(), session_id=session_id
            )
        await self.sessions.forget(ended)

    async def change_password(
        self, account_id: str, session_id: str, current: str, new: str
    ) -> int:
        """Set a new password (the current one is required and its checks are rate limited
        like sign-ins) and revoke every other session. Returns how many were revoked."""
        new = normalize_password(new)
        account = await self.account(account_id)
        async with self.db.read() as s:
            await self.per_account.check(IdentityStore(s), account.email)
        if not await self.hasher.verify(account.password_hash, current):
            async with self.db.write() as s:
                await self.per_account.record(IdentityStore(s), account.email)
            raise WrongPassword("The current password is not right.")
        hashed = await self.hasher.hash(new)
        async with self.db.write() as s:
            store = IdentityStore(s)
            fresh = await store.account(account_id, lock=True)
            if fresh is None:
                raise AccountNotFound("There is no such account.")
            fresh.password_hash = hashed
            fresh.password_changed_at = self.now()
            await self.per_account.clear(store, account.email)
            ended = await store.end_sessions(account_id, self.now(), keep=session_id)
        await self.sessions.forget(ended)
        return len(ended)

    async def prune(self) -> int:
        """Delete sessions that ended long ago and attempts that left their windows."""
        async with self.db.write() as s:
            store = IdentityStore(s)
            removed = await store.prune_sessions(self.now() - _KEEP_ENDED)
            for limiter in (self.per_account, self.per_client, self.signups):
                removed += await limiter.prune(store)
        return removed


async def create_admin(
    db: Database,
    clock: Clock,
    email: str,
    password: str,
    *,
    country: str = "US",
    config: IdentityConfig | None = None,
    exist_ok: bool = False,
) -> Account:
    """An operator account with the ``member`` and ``admin`` roles (the seed command uses it).

    With ``exist_ok``, an existing account with this email is given the admin role instead
    (its password is left as it is), so seeding twice is harmless."""
    service = IdentityService(db, clock, config)
    try:
        return await service.create_account(email, password, country, roles=(MEMBER, ADMIN))
    except SignupRefused:
        if not exist_ok:
            raise
    async with db.write() as s:
        account = await IdentityStore(s).account_by_email(normalize_email(email))
        if account is None:  # deleted in between
            raise AccountNotFound("There is no such account.")
        if ADMIN not in account.roles:
            account.roles = [*account.roles, ADMIN]
        return account


def _cached_of(info: SessionInfo) -> CachedSession:
    return CachedSession(
        account_id=info.account_id,
        profile_id=info.profile_id,
        roles=info.roles,
        session_id=info.session_id,
        expires_at=int(info.expires_at.timestamp()),
        country=info.country,
    )


def _info_of(cached: CachedSession) -> SessionInfo:
    return SessionInfo(
        account_id=cached.account_id,
        profile_id=cached.profile_id,
        roles=cached.roles,
        session_id=cached.session_id,
        expires_at=datetime.fromtimestamp(cached.expires_at, UTC),
        country=cached.country,
    )


_REFUSED = (
    "We could not create an account with these details. "
    "If you have signed up before, sign in instead."
)
_KEEP_ENDED = timedelta(days=7)  # ended sessions kept this long (devices list, audits)
