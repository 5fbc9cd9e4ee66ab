"""Asset tables. An asset is one packaged title in the object store, with its tracks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Double, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from matinee.db.base import Base, UTCDateTime


class Asset(Base):
    __tablename__ = "assets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(36), index=True, unique=True)
    title: Mapped[str] = mapped_column(String(300))
    prefix: Mapped[str] = mapped_column(String(200))  # object-store prefix of the package
    hls_key: Mapped[str] = mapped_column(String(300))
    dash_key: Mapped[str] = mapped_column(String(300))
    poster_key: Mapped[str | None] = mapped_column(String(300), default=None)
    trickplay_key: Mapped[str | None] = mapped_column(String(300), default=None)
    duration: Mapped[float] = mapped_column(Double)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    probe: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    tracks: Mapped[list[Track]] = relationship(
        back_populates="asset", cascade="all, delete-orphan", order_by="Track.id"
    )


class Track(Base):
    """A video rendition, an audio language or a subtitle language of an asset."""

    __tablename__ = "tracks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # video | audio | text
    name: Mapped[str] = mapped_column(String(64))
    codecs: Mapped[str | None] = mapped_column(String(64), default=None)
    language: Mapped[str | None] = mapped_column(String(16), default=None)
    width: Mapped[int | None] = mapped_column(Integer, default=None)
    height: Mapped[int | None] = mapped_column(Integer, default=None)
    frame_rate: Mapped[str | None] = mapped_column(String(16), default=None)
    target_kbps: Mapped[int | None] = mapped_column(Integer, default=None)
    peak_bps: Mapped[int | None] = mapped_column(Integer, default=None)
    average_bps: Mapped[int | None] = mapped_column(Integer, default=None)
    vmaf_mean: Mapped[float | None] = mapped_column(Double, default=None)
    vmaf_min: Mapped[float | None] = mapped_column(Double, default=None)
    playlist_key: Mapped[str | None] = mapped_column(String(300), default=None)

    asset: Mapped[Asset] = relationship(back_populates="tracks")
