"""Titles released in a country in a span of time, for the CDN's proactive fill.

``GET /internal/catalog/releases?country=US&since=<epoch s>&until=<epoch s>&limit=500`` lists
the playable titles (movies and episodes, published, with a linked asset; an episode's series
published too) whose availability window in ``country`` starts within ``[since, until]``,
newest first. An episode without windows of its own follows its series' (as everywhere in the
catalog). The fill controller gives such titles a newness prior, so a title is on the edges
before anyone has watched it, including one that opens tomorrow.
"""

# No ``from __future__ import annotations``: FastAPI reads the route's annotations.

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import and_, exists, select, union_all
from sqlalchemy.orm import aliased

from matinee.services.catalog.models import Availability, Title
from matinee.services.catalog.schemas import COUNTRY_PATTERN
from matinee.services.catalog.service import CatalogService

MAX_EPOCH_S = 253_402_300_799  # 9999-12-31T23:59:59Z
MAX_RELEASES = 5000


class Release(BaseModel):
    title_id: str
    asset_id: str
    released_at: float  # epoch s: the start of the window in the country


class ReleasesOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "country": "US",
                    "titles": [
                        {"title_id": "3f1c...", "asset_id": "9a2b...", "released_at": 1.7e9}
                    ],
                }
            ]
        }
    )

    country: str
    titles: list[Release]


async def releases(
    service: CatalogService, country: str, since: datetime, until: datetime, limit: int
) -> list[Release]:
    series = aliased(Title)
    series_window = aliased(Availability)
    playable = and_(
        Title.kind.in_(("movie", "episode")),
        Title.published.is_(True),
        Title.asset_id.is_not(None),
    )
    series_published = exists().where(series.id == Title.series_id, series.published.is_(True))
    own = (
        select(Title.id, Title.asset_id, Availability.starts_at)
        .join(Availability, Availability.title_id == Title.id)
        .where(
            playable,
            Title.series_id.is_(None) | series_published,
            Availability.country == country,
            Availability.starts_at >= since,
            Availability.starts_at <= until,
        )
    )
    inherited = (
        select(Title.id, Title.asset_id, series_window.starts_at)
        .join(series, series.id == Title.series_id)
        .join(series_window, series_window.title_id == series.id)
        .where(
            playable,
            Title.kind == "episode",
            series.published.is_(True),
            ~exists().where(Availability.title_id == Title.id),
            series_window.country == country,
            series_window.starts_at >= since,
            series_window.starts_at <= until,
        )
    )
    both = union_all(own, inherited).subquery()
    stmt = select(both).order_by(both.c[2].desc(), both.c[0]).limit(limit)
    async with service.db.read() as s:
        rows = (await s.execute(stmt)).all()
    seen: set[str] = set()
    out = []
    for title_id, asset_id, starts_at in rows:
        if title_id in seen:  # two windows in the span: the newest counts
            continue
        seen.add(title_id)
        start = starts_at if starts_at.tzinfo else starts_at.replace(tzinfo=UTC)
        out.append(Release(title_id=title_id, asset_id=asset_id, released_at=start.timestamp()))
    return out


def router(service: CatalogService) -> APIRouter:
    api = APIRouter(prefix="/internal/catalog", tags=["catalog internal"])

    @api.get("/releases", summary="Titles released in a span", response_model=ReleasesOut)
    async def list_releases(
        country: Annotated[str, Query(pattern=COUNTRY_PATTERN, examples=["US"])],
        since: Annotated[float, Query(ge=0, le=MAX_EPOCH_S, description="epoch s")],
        until: Annotated[float, Query(ge=0, le=MAX_EPOCH_S, description="epoch s")],
        limit: Annotated[int, Query(ge=1, le=MAX_RELEASES)] = 500,
    ) -> ReleasesOut:
        """Playable titles whose window in ``country`` starts between ``since`` and
        ``until``, newest first."""
        start = datetime.fromtimestamp(since, UTC)
        end = datetime.fromtimestamp(until, UTC)
        found = await releases(service, country, start, end, limit)
        return ReleasesOut(country=country, titles=found)

    return api
