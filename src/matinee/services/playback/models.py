"""The playback service's tables: stream leases, and one lock row per account.

A lease is one stream being watched: it lives until ``expires_at`` unless a heartbeat moves that
on, and a stop deletes it. The number of live leases of an account is what the plan's stream
limit counts. ``playback_accounts`` holds one row per account that ever played; starting a
stream locks it (``SELECT ... FOR UPDATE``) so two starts of one household count and insert one
after the other, never both past the limit. Ids of accounts, profiles and titles belong to other
services: no foreign keys cross into their tables.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from matinee.db.base import Base, UTCDateTime

ID_LENGTH = 36
FOREIGN_ID_LENGTH = 64  # ids other services hand out
DEVICE_LENGTH = 128


class PlaybackAccount(Base):
    """The row a start locks to serialize the stream-limit check of one account."""

    __tablename__ = "playback_accounts"

    account_id: Mapped[str] = mapped_column(String(FOREIGN_ID_LENGTH), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StreamLease(Base):
    """One stream: who watches what on which device, and until when unless renewed."""

    __tablename__ = "playback_leases"
    __table_args__ = (
        Index("ix_playback_leases_account_expires", "account_id", "expires_at"),
        Index("ix_playback_leases_account_device", "account_id", "device_id"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(FOREIGN_ID_LENGTH))
    profile_id: Mapped[str] = mapped_column(String(FOREIGN_ID_LENGTH))
    device_id: Mapped[str | None] = mapped_column(String(DEVICE_LENGTH), default=None)
    title_id: Mapped[str] = mapped_column(String(FOREIGN_ID_LENGTH))
    max_height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    renewed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
