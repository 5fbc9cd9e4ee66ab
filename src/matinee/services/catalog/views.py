"""How titles look from outside: the response bodies built from rows, and the availability
rule every reader shares.

Availability: a title is available in a country at an instant when it is published and one of
its windows for that country is open then (``starts_at <= at < ends_at``, no end = open). An
episode is published when it and its series both are, and uses its own windows when it has
any, else its series'.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from matinee.services.catalog.models import Availability, Genre, Title
from matinee.services.catalog.schemas import (
    AdminTitle,
    Artwork,
    CreditOut,
    EpisodeOut,
    GenreOut,
    InternalTitle,
    SeasonOut,
    TitleDetail,
    TitleSummary,
    WindowOut,
)

Reason = Literal["unpublished", "region", "window"]
MEDIA_PREFIX = "/media/"  # where the media service serves packaged objects (its api.py)


@dataclass(frozen=True)
class Effective:
    """What decides a title's availability: its own, or for an episode, its series' too."""

    published: bool
    windows: Sequence[Availability]

    def reason(self, country: str, at: datetime) -> Reason | None:
        """None when available in ``country`` at ``at``, else why not."""
        if not self.published:
            return "unpublished"
        mine = [w for w in self.windows if w.country == country]
        if not mine:
            return "region"
        if any(w.starts_at <= at and (w.ends_at is None or at < w.ends_at) for w in mine):
            return None
        return "window"


def effective(title: Title, series: Title | None = None) -> Effective:
    """``title``'s availability inputs; ``series`` is required for an episode."""
    if title.kind != "episode" or series is None:
        return Effective(title.published, title.availability)
    return Effective(
        title.published and series.published, title.availability or series.availability
    )


def _slug(genre: Genre) -> str:
    return genre.slug


def media_url(key: str | None) -> str | None:
    return None if key is None else MEDIA_PREFIX + key


def artwork(title: Title) -> Artwork:
    return Artwork(poster=media_url(title.poster_key), trickplay=media_url(title.trickplay_key))


def runtime(title: Title) -> int | None:
    """The runtime given, else the linked asset's duration."""
    if title.runtime_s is not None:
        return title.runtime_s
    if title.asset_duration_s is not None and title.kind != "series":
        return round(title.asset_duration_s)
    return None


def summary(title: Title) -> TitleSummary:
    """List item (``genres`` must be loaded)."""
    return TitleSummary(
        id=title.id,
        kind=title.kind,
        name=title.name,
        synopsis=title.synopsis,
        maturity=title.maturity,
        release_year=title.release_year,
        runtime_s=runtime(title),
        genres=[GenreOut(slug=g.slug, name=g.name) for g in sorted(title.genres, key=_slug)],
        artwork=artwork(title),
        playable=title.asset_id is not None,
    )


def episode(title: Title) -> EpisodeOut:
    return EpisodeOut(
        id=title.id,
        season=title.season or 0,
        episode=title.episode or 0,
        name=title.name,
        synopsis=title.synopsis,
        maturity=title.maturity,
        runtime_s=runtime(title),
        artwork=artwork(title),
        playable=title.asset_id is not None,
    )


def seasons(episodes: Sequence[Title]) -> list[SeasonOut]:
    """Episodes (in season order) grouped by season."""
    grouped: dict[int, list[EpisodeOut]] = {}
    for e in episodes:
        grouped.setdefault(e.season or 0, []).append(episode(e))
    return [SeasonOut(season=s, episodes=eps) for s, eps in grouped.items()]


def detail(title: Title, episodes: Sequence[Title] | None = None) -> TitleDetail:
    """A title's page (genres and credits loaded); ``episodes`` those of a series to show."""
    return TitleDetail(
        **summary(title).model_dump(),
        cast=[
            CreditOut(name=c.person.name, role=c.role, character=c.character) for c in title.credits
        ],
        max_height=title.asset_max_height,
        series_id=title.series_id,
        season=title.season,
        episode=title.episode,
        seasons=seasons(episodes) if title.kind == "series" and episodes is not None else None,
    )


def windows(rows: Sequence[Availability]) -> list[WindowOut]:
    return [WindowOut(country=w.country, starts_at=w.starts_at, ends_at=w.ends_at) for w in rows]


def admin(title: Title, episodes: Sequence[Title] | None = None) -> AdminTitle:
    """Everything, published or not (genres, credits and availability loaded)."""
    return AdminTitle(
        **detail(title, episodes).model_dump(),
        published=title.published,
        asset_id=title.asset_id,
        availability=windows(title.availability),
        created_at=title.created_at,
        updated_at=title.updated_at,
    )


def internal(title: Title, rules: Effective, next_episode_id: str | None = None) -> InternalTitle:
    """The contract other services read (``/internal/catalog/titles/{id}``)."""
    return InternalTitle(
        id=title.id,
        kind=title.kind,
        name=title.name,
        published=rules.published,
        maturity=title.maturity,
        runtime_s=runtime(title),
        asset_id=title.asset_id,
        series_id=title.series_id,
        season=title.season,
        episode=title.episode,
        next_episode_id=next_episode_id,
        availability=windows(rules.windows),
    )
