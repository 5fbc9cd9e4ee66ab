"""Profiles: up to five viewers per account, each with a name, an avatar, a language and the
highest maturity rating it may watch. A kids profile never goes above 12 (so 0 or 7).

Selecting a profile swaps the caller's session for a new one bound to that profile; the
gateway then carries the profile in the identity it signs for every service.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args

from sqlalchemy.exc import IntegrityError

from matinee.clock import Clock
from matinee.db.aio import Database
from matinee.services.identity.errors import (
    InvalidProfile,
    NotSignedIn,
    ProfileLimitReached,
    ProfileNameTaken,
    ProfileNotFound,
)
from matinee.services.identity.models import Profile
from matinee.services.identity.pages import Cursor, Page
from matinee.services.identity.service import IdentityService, IssuedSession
from matinee.services.identity.store import IdentityStore

Maturity = Literal[0, 7, 13, 16, 18]
MATURITY_LEVELS: tuple[int, ...] = get_args(Maturity)
KIDS_MAX_MATURITY = 12
KIDS_DEFAULT_MATURITY = 7
ADULT_DEFAULT_MATURITY = 18
Avatar = Literal[
    "popcorn",
    "clapperboard",
    "film-reel",
    "ticket",
    "star",
    "comet",
    "fox",
    "owl",
    "panda",
    "robot",
    "rocket",
    "wave",
]
AVATARS: tuple[str, ...] = get_args(Avatar)
DEFAULT_AVATAR = AVATARS[0]
DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class ProfileFields:
    """What a caller may set; None means "leave as it is" (or the default on creation)."""

    name: str | None = None
    avatar: str | None = None
    language: str | None = None
    maturity_level: int | None = None
    kids: bool | None = None


def _check(name: str, avatar: str, maturity: int, kids: bool) -> None:
    if not name.strip():
        raise InvalidProfile("name: a profile needs a name.")
    if avatar not in AVATARS:
        raise InvalidProfile(f"avatar: choose one of {', '.join(AVATARS)}.")
    if maturity not in MATURITY_LEVELS:
        raise InvalidProfile("maturity_level: choose one of 0, 7, 13, 16, 18.")
    if kids and maturity > KIDS_MAX_MATURITY:
        raise InvalidProfile(
            f"maturity_level: a kids profile may watch at most maturity {KIDS_MAX_MATURITY} "
            "(choose 0 or 7)."
        )


class Profiles:
    """Create, read, change, delete and select the profiles of one's own account."""

    def __init__(
        self, db: Database, clock: Clock, identity: IdentityService, max_profiles: int = 5
    ) -> None:
        self.db = db
        self.clock = clock
        self.identity = identity
        self.max_profiles = max_profiles

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.time(), UTC)

    async def create(self, account_id: str, fields: ProfileFields) -> Profile:
        """A new profile; :class:`ProfileLimitReached` past the cap, :class:`ProfileNameTaken`
        when another profile of the account has this name."""
        kids = bool(fields.kids)
        maturity = fields.maturity_level
        if maturity is None:
            maturity = KIDS_DEFAULT_MATURITY if kids else ADULT_DEFAULT_MATURITY
        profile = Profile(
            id=str(uuid.uuid4()),
            account_id=account_id,
            name=(fields.name or "").strip(),
            avatar=fields.avatar or DEFAULT_AVATAR,
            language=fields.language or DEFAULT_LANGUAGE,
            maturity_level=maturity,
            kids=kids,
            created_at=self.now(),
        )
        _check(profile.name, profile.avatar, profile.maturity_level, profile.kids)
        try:
            async with self.db.write() as s:
                store = IdentityStore(s)
                # Lock the account row: two concurrent creations cannot both pass the count.
                if await store.account(account_id, lock=True) is None:
                    raise NotSignedIn("Your account no longer exists.")
                if await store.count_profiles(account_id) >= self.max_profiles:
                    raise ProfileLimitReached(
                        f"An account can have at most {self.max_profiles} profiles; "
                        "delete one to add another."
                    )
                if await store.profile_by_name(account_id, profile.name) is not None:
                    raise ProfileNameTaken(_NAME_TAKEN)
                await store.add(profile)
        except IntegrityError as exc:
            raise ProfileNameTaken(_NAME_TAKEN) from exc
        return profile

    async def get(self, account_id: str, profile_id: str) -> Profile:
        """One of the account's profiles (another account's is :class:`ProfileNotFound`)."""
        async with self.db.read() as s:
            profile = await IdentityStore(s).profile(profile_id, account_id)
        if profile is None:
            raise ProfileNotFound("There is no such profile on this account.")
        return profile

    async def any(self, profile_id: str) -> Profile:
        """Any account's profile (the internal lookup other services use)."""
        async with self.db.read() as s:
            profile = await IdentityStore(s).profile(profile_id)
        if profile is None:
            raise ProfileNotFound("There is no such profile.")
        return profile

    async def list(self, account_id: str, cursor: str | None, limit: int) -> Page[Profile]:
        after = Cursor.decode(cursor) if cursor else None
        async with self.db.read() as s:
            return await IdentityStore(s).profiles(account_id, after, limit)

    async def update(self, account_id: str, profile_id: str, fields: ProfileFields) -> Profile:
        """Change the given fields. Turning a profile into a kids profile without a maturity
        level lowers it to the kids default."""
        try:
            async with self.db.write() as s:
                store = IdentityStore(s)
                profile = await store.profile(profile_id, account_id)
                if profile is None:
                    raise ProfileNotFound("There is no such profile on this account.")
                name = profile.name if fields.name is None else fields.name.strip()
                kids = profile.kids if fields.kids is None else fields.kids
                maturity = fields.maturity_level
                if maturity is None:
                    maturity = profile.maturity_level
                    if kids and maturity > KIDS_MAX_MATURITY:
                        maturity = KIDS_DEFAULT_MATURITY
                avatar = fields.avatar or profile.avatar
                _check(name, avatar, maturity, kids)
                if name != profile.name and await store.profile_by_name(account_id, name):
                    raise ProfileNameTaken(_NAME_TAKEN)
                profile.name, profile.avatar, profile.kids = name, avatar, kids
                profile.maturity_level = maturity
                if fields.language is not None:
                    profile.language = fields.language
                await s.flush()
        except IntegrityError as exc:
            raise ProfileNameTaken(_NAME_TAKEN) from exc
        return profile

    async def delete(self, account_id: str, profile_id: str) -> None:
        """Delete the profile and end the sessions bound to it."""
        async with self.db.write() as s:
            store = IdentityStore(s)
            profile = await store.profile(profile_id, account_id)
            if profile is None:
                raise ProfileNotFound("There is no such profile on this account.")
            ended = await store.end_sessions(account_id, self.now(), profile_id=profile_id)
            await store.delete_profile(profile)
        await self.identity.sessions.forget(ended)

    async def select(self, account_id: str, session_id: str, profile_id: str) -> IssuedSession:
        """Swap the caller's session for a new token bound to ``profile_id`` (same device, same
        expiry); the old token stops working."""
        now = self.now()
        async with self.db.write() as s:
            store = IdentityStore(s)
            profile = await store.profile(profile_id, account_id)
            if profile is None:
                raise ProfileNotFound("There is no such profile on this account.")
            old = await store.live_session(session_id, now)
            account = await store.account(account_id)
            if old is None or old.account_id != account_id or account is None:
                raise NotSignedIn("Your session has ended; sign in again.")
            ended = await store.end_sessions(account_id, now, session_id=session_id)
            issued = await self.identity.reissue(store, old, profile_id=profile.id)
        await self.identity.sessions.forget(ended)
        return issued


_NAME_TAKEN = "Another profile on this account already has this name."
