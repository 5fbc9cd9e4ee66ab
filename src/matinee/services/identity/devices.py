"""Devices: what an account signed in from, and signing a device out.

Each sign-in records a device. A client that sends its own device id (an app's install id)
gets the same record back every time it signs in; otherwise each sign-in is a new device,
named after the browser's user agent.
"""

from __future__ import annotations

import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from matinee.clock import Clock
from matinee.db.aio import Database
from matinee.services.identity.errors import DeviceNotFound
from matinee.services.identity.models import Device
from matinee.services.identity.pages import Cursor, Page
from matinee.services.identity.session_cache import SessionCache
from matinee.services.identity.store import IdentityStore

NAME_MAX = 200
USER_AGENT_MAX = 300


def _clean(text: str | None, limit: int) -> str | None:
    """``text`` without control characters, trimmed to ``limit``; None when nothing is left."""
    if text is None:
        return None
    kept = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cs")).strip()
    return kept[:limit] or None


# (token in the user agent, name), first match wins: Edge and Chrome both say "Safari".
_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def describe_user_agent(user_agent: str) -> str:
    """ "Firefox on Linux" for a browser's user agent; the user agent itself otherwise."""
    browser = next((name for token, name in _BROWSERS if token in user_agent), None)
    system = next((name for token, name in _SYSTEMS if token in user_agent), None)
    if browser and system:
        return f"{browser} on {system}"
    return user_agent


@dataclass(frozen=True)
class DeviceHint:
    """What a sign-in tells about its device: its own id and name, and the user agent."""

    device_id: str | None = None
    name: str | None = None
    user_agent: str | None = None

    def display_name(self) -> str:
        agent = _clean(self.user_agent, NAME_MAX)
        return (
            _clean(self.name, NAME_MAX)
            or (describe_user_agent(agent) if agent else None)
            or "Unknown device"
        )


async def record_device(
    store: IdentityStore, account_id: str, hint: DeviceHint, now: datetime
) -> Device:
    """The device this sign-in comes from: found by the client's device id, else new."""
    device = None
    if hint.device_id is not None:
        device = await store.device_by_key(account_id, hint.device_id)
    if device is not None:
        device.last_seen_at = now
        if hint.name is not None:
            device.name = hint.display_name()
        if hint.user_agent is not None:
            device.user_agent = _clean(hint.user_agent, USER_AGENT_MAX)
        return device
    device = Device(
        id=str(uuid.uuid4()),
        account_id=account_id,
        client_key=hint.device_id or "random:" + secrets.token_hex(16),
        name=hint.display_name(),
        user_agent=_clean(hint.user_agent, USER_AGENT_MAX),
        created_at=now,
        last_seen_at=now,
    )
    added = await store.add_device(device)
    if added is not None:
        return added
    # A concurrent sign-in from the same device inserted it first: use that one.
    assert hint.device_id is not None  # noqa: S101 - random keys do not collide
    existing = await store.device_by_key(account_id, hint.device_id, lock=True)
    if existing is None:
        raise DeviceNotFound("The device record disappeared while signing in; try again.")
    existing.last_seen_at = now
    return existing


class Devices:
    """The devices of an account: list them, or remove one and end its sessions."""

    def __init__(self, db: Database, clock: Clock, sessions: SessionCache | None = None) -> None:
        self.db = db
        self.clock = clock
        self.sessions = sessions or SessionCache(None, clock)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.time(), UTC)

    async def list(self, account_id: str, cursor: str | None, limit: int) -> Page[Device]:
        after = Cursor.decode(cursor) if cursor else None
        async with self.db.read() as s:
            return await IdentityStore(s).devices(account_id, after, limit)

    async def remove(self, account_id: str, device_id: str) -> int:
        """Sign the device out (revoke its live sessions) and forget it. Returns how many
        sessions ended; another account's device is :class:`DeviceNotFound`."""
        async with self.db.write() as s:
            store = IdentityStore(s)
            device = await store.device(account_id, device_id)
            if device is None:
                raise DeviceNotFound("There is no such device on this account.")
            ended = await store.end_sessions(account_id, self.now(), device_id=device_id)
            await store.delete_device(device)
        await self.sessions.forget(ended)
        return len(ended)
