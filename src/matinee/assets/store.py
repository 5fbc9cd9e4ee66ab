"""Persistence of packaged assets and their tracks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from matinee.assets.models import Asset, Track


class AssetStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(self, asset: Asset) -> None:
        """Publish an asset and its tracks in one transaction: all visible, or none."""
        with self._sessions.begin() as s:
            s.add(asset)

    def record_vmaf(self, asset_id: str, scores: Mapping[str, tuple[float, float]]) -> None:
        """Set the VMAF (mean, minimum) of an asset's video tracks, by track name."""
        with self._sessions.begin() as s:
            for name, (mean, minimum) in scores.items():
                s.execute(
                    update(Track)
                    .where(Track.asset_id == asset_id, Track.kind == "video", Track.name == name)
                    .values(vmaf_mean=mean, vmaf_min=minimum)
                )

    def get(self, asset_id: str) -> Asset | None:
        with self._sessions() as s:
            return s.get(Asset, asset_id, options=[selectinload(Asset.tracks)])

    def all(self) -> Sequence[Asset]:
        with self._sessions() as s:
            stmt = select(Asset).options(selectinload(Asset.tracks)).order_by(Asset.created_at)
            return s.scalars(stmt).all()
