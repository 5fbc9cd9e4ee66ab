"""The viewing-history service's routes (all for a signed-in member with a profile chosen).

* ``POST /api/history/events`` - a player's batch of starts, heartbeats and stops; answered
  once every event is durable;
* ``GET /api/history/continue-watching`` - titles to resume, and next episodes;
* ``GET /api/history`` - everything the profile watched, newest first, paged;
* ``GET /api/history/bookmarks/{title_id}`` - where to resume a title.

Internal, for other services: ``GET /internal/history/popular?country=US&days=7&limit=200`` -
the most played titles of a country (plays started, counted per UTC day), for the CDN's fill.
"""

# No ``from __future__ import annotations`` here: FastAPI must see the ``Viewer`` dependency
# (built from this service's Callers inside ``router``) as an object, not as a string.

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from matinee.gateway.auth import Identity
from matinee.runtime.context import ServiceContext
from matinee.runtime.identity import Callers
from matinee.services.history.schemas import (
    ID_PATTERN,
    AcceptedOut,
    BookmarkOut,
    ContinueWatchingPage,
    EventBatchIn,
    HistoryPageOut,
    PopularOut,
)
from matinee.services.history.service import HistoryService

Limit = Annotated[int, Query(ge=1, le=100, description="Items per page")]
Cursor = Annotated[
    str | None, Query(max_length=256, description="next_cursor of the previous page")
]


COUNTRY_PATTERN = r"^[A-Z]{2}$"
MAX_POPULAR_DAYS = 90
MAX_POPULAR_TITLES = 5000


def router(ctx: ServiceContext, service: HistoryService) -> list[APIRouter]:
    return [_public(ctx, service), _internal(service)]


def _internal(service: HistoryService) -> APIRouter:
    api = APIRouter(prefix="/internal/history", tags=["history internal"])

    @api.get("/popular", summary="Most played titles of a country")
    async def popular(
        country: Annotated[str, Query(pattern=COUNTRY_PATTERN, examples=["US"])],
        days: Annotated[int, Query(ge=1, le=MAX_POPULAR_DAYS)] = 7,
        limit: Annotated[int, Query(ge=1, le=MAX_POPULAR_TITLES)] = 200,
    ) -> PopularOut:
        """Titles by plays started in ``country`` over the last ``days`` UTC days (today
        included), most played first; at most ``limit``."""
        return await service.popular(country, days, limit)

    return api


def _public(ctx: ServiceContext, service: HistoryService) -> APIRouter:
    callers = Callers(ctx)
    Viewer = Annotated[Identity, Depends(callers.profile)]  # noqa: N806 - a type alias
    api = APIRouter(prefix="/api/history", tags=["history"])

    @api.post(
        "/events",
        summary="Record a player's events",
        description="Starts, heartbeats (every few seconds) and stops of the chosen profile. "
        "The answer comes once every event is durable; retrying a batch is harmless.",
    )
    async def record(batch: EventBatchIn, viewer: Viewer) -> AcceptedOut:
        assert viewer.profile is not None  # noqa: S101 - Callers.profile guarantees it
        accepted = await service.record(viewer.profile, batch.events, viewer.country)
        return AcceptedOut(accepted=accepted)

    @api.get(
        "/continue-watching",
        summary="Titles to resume, and next episodes",
        description="The latest position in each recently watched title, newest first. "
        "Finished titles are hidden; a finished episode brings its series' next episode.",
    )
    async def continue_watching(
        viewer: Viewer, limit: Limit = 20, cursor: Cursor = None
    ) -> ContinueWatchingPage:
        assert viewer.profile is not None  # noqa: S101
        return await service.continue_watching(viewer.profile, limit=limit, cursor=cursor)

    @api.get("", summary="Viewing history, newest first")
    async def history(viewer: Viewer, limit: Limit = 20, cursor: Cursor = None) -> HistoryPageOut:
        assert viewer.profile is not None  # noqa: S101
        return await service.history(viewer.profile, limit=limit, cursor=cursor)

    @api.get("/bookmarks/{title_id}", summary="Where to resume a title")
    async def bookmark(
        viewer: Viewer,
        title_id: Annotated[str, Path(max_length=64, pattern=ID_PATTERN)],
    ) -> BookmarkOut:
        assert viewer.profile is not None  # noqa: S101
        return await service.bookmark(viewer.profile, title_id)

    return api
