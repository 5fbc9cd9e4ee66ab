"""The identity service's tables: accounts, their profiles, devices and sessions, and the
failed sign-in attempts the login rate limit counts (kept in the database so every instance of
a fleet sees the same counts)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from matinee.db.base import Base, UTCDateTime

ID_LENGTH = 36
EMAIL_LENGTH = 254


class Account(Base):
    """A member (or operator): an email address and an argon2id hash of the password."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    email: Mapped[str] = mapped_column(String(EMAIL_LENGTH), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    country: Mapped[str] = mapped_column(String(2))
    roles: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Profile(Base):
    """One viewer in a household: name, avatar, language and the highest maturity it may watch."""

    __tablename__ = "profiles"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(50))
    avatar: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(35))
    maturity_level: Mapped[int] = mapped_column(Integer)
    kids: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Device(Base):
    """Something an account signed in from. ``client_key`` is the device id the client sent
    (so signing in again from it reuses the record), or a random one."""

    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("account_id", "client_key"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    client_key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Session(Base):
    """A signed-in session. Only the SHA-256 of its token is stored; revoking sets
    ``revoked_at`` (the row stays until it has long expired)."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    profile_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("profiles.id", ondelete="SET NULL"), index=True
    )
    device_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("devices.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LoginAttempt(Base):
    """One counted attempt: ``scope`` is what is limited (``account``: an email address,
    ``client``: a client address, ``signup``: sign-ups from a client address), ``key`` which
    one (a SHA-256, so the table holds no addresses in the clear)."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_scope_key_at", "scope", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
