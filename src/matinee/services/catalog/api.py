"""The catalog's routes.

* public (``/api/catalog/...``, through the gateway): titles, one title, genres, search. Only
  published titles available now in the caller's country are shown: a signed-in caller's
  country is the one the identity service vouched for, an anonymous caller may name one
  (``?country=``, default ``US``). ``?maturity_max=`` hides titles rated above it (the web app
  passes the profile's level; playback enforces maturity on its own);
* admin (``Callers.admin``): create and change titles and episodes, availability, publishing,
  linking a packaged media asset;
* internal (``/internal/catalog/...``, other services only; the gateway never routes them).

A title's page and the title lists are read through the cache (``page_cache.py``); every admin
write to a title makes its cached pages unreachable once it is committed.
"""

# No ``from __future__ import annotations`` here: FastAPI must see the dependencies that the
# route functions' annotations name, some of which are local to the router factories.
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from matinee.gateway.auth import Identity
from matinee.runtime.context import ServiceContext
from matinee.runtime.identity import Callers
from matinee.services.catalog import assets, releases
from matinee.services.catalog.page_cache import PageCache
from matinee.services.catalog.pagination import DEFAULT_LIMIT, MAX_LIMIT
from matinee.services.catalog.schemas import (
    COUNTRY_PATTERN,
    AdminTitle,
    AdminTitlePage,
    Availability,
    AvailabilityIn,
    EpisodeCreate,
    GenrePage,
    InternalTitle,
    LinkAsset,
    SearchPage,
    TitleCreate,
    TitleDetail,
    TitlePage,
    TitleUpdate,
)
from matinee.services.catalog.service import CatalogService
from matinee.services.catalog.store import Audience

TitleId = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,64}$", description="a title's id")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")]
Cursor = Annotated[
    str | None, Query(max_length=1000, description="next_cursor of the previous page")
]
CountryParam = Annotated[
    str | None,
    Query(
        pattern=COUNTRY_PATTERN,
        description="ISO 3166 alpha-2 country of an anonymous caller (default US); a "
        "signed-in caller's own country always wins",
    ),
]
MaturityMax = Annotated[
    int | None, Query(ge=0, le=18, description="hide titles rated above this age")
]
MAX_EPOCH_S = 253_402_300_799  # 9999-12-31T23:59:59Z


def routers(ctx: ServiceContext, service: CatalogService) -> list[APIRouter]:
    callers = Callers(ctx)
    pages = PageCache(ctx.cache("catalog"), ctx.cache("catalog.gen"), service)
    return [
        _public(service, pages, callers),
        _admin(ctx, service, pages, callers),
        _internal(service),
        releases.router(service),  # the CDN's fill (services/steering)
    ]


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def _public(service: CatalogService, pages: PageCache, callers: Callers) -> APIRouter:
    api = APIRouter(prefix="/api/catalog", tags=["catalog"])

    def audience(
        who: Annotated[Identity | None, Depends(callers.optional)],
        country: CountryParam = None,
        maturity_max: MaturityMax = None,
    ) -> Audience:
        own = who.country if who is not None and who.country else None
        return pages.audience(own or country, maturity_max)

    @api.get("/titles", summary="Browse titles", response_model=TitlePage)
    async def list_titles(
        *,
        viewer: Annotated[Audience, Depends(audience)],
        genre: Annotated[
            str | None, Query(pattern=r"^[a-z0-9-]{1,64}$", description="a genre's slug")
        ] = None,
        kind: Literal["movie", "series"] | None = None,
        year: Annotated[int | None, Query(ge=1870, le=2100)] = None,
        sort: Literal["newest", "name"] = "newest",
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Response:
        """Movies and series the caller may watch now, newest or by name, a page at a time."""

        async def load() -> TitlePage:
            return await service.titles(
                viewer, kind=kind, genre=genre, year=year, sort=sort, cursor=cursor, limit=limit
            )

        query = {"kind": kind, "genre": genre, "year": year, "sort": sort, "limit": limit}
        return _json(await pages.titles(viewer, load, cursor=cursor, **query))

    @api.get("/titles/{title_id}", summary="A title's page", response_model=TitleDetail)
    async def get_title(
        viewer: Annotated[Audience, Depends(audience)], title_id: TitleId
    ) -> Response:
        """One title; a series lists its seasons with the episodes the caller may watch."""
        return _json(await pages.title(viewer, title_id))

    @api.get("/genres", summary="Genres", response_model=GenrePage)
    async def list_genres(limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> GenrePage:
        """Every genre, by slug."""
        return await service.genres(cursor, limit)

    @api.get("/search", summary="Search titles", response_model=SearchPage)
    async def search(
        *,
        viewer: Annotated[Audience, Depends(audience)],
        q: Annotated[str, Query(min_length=1, max_length=200, description="words to find")],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> SearchPage:
        """Titles whose name, synopsis, genres or cast hold words starting with every word of
        ``q``; typos are forgiven. Titles whose name holds them all come first."""
        return await service.search(viewer, q, cursor=cursor, limit=limit)

    return api


def _admin(
    ctx: ServiceContext, service: CatalogService, pages: PageCache, callers: Callers
) -> APIRouter:
    api = APIRouter(
        prefix="/api/catalog", tags=["catalog admin"], dependencies=[Depends(callers.admin)]
    )

    @api.post("/titles", summary="Create a title", status_code=201, response_model=AdminTitle)
    async def create_title(body: TitleCreate) -> AdminTitle:
        """A new movie or series: unpublished, with no availability until given some."""
        return await service.create_title(body)

    @api.patch("/titles/{title_id}", summary="Change a title", response_model=AdminTitle)
    async def update_title(title_id: TitleId, body: TitleUpdate) -> AdminTitle:
        """Change the fields given (any kind of title, episodes included)."""
        changed = await service.update_title(title_id, body)
        await pages.forget(title_id)
        return changed

    @api.post(
        "/titles/{title_id}/episodes",
        summary="Add an episode",
        status_code=201,
        response_model=AdminTitle,
    )
    async def add_episode(title_id: TitleId, body: EpisodeCreate) -> AdminTitle:
        """A new episode of the series ``title_id``."""
        added = await service.add_episode(title_id, body)
        await pages.forget(title_id)
        return added

    @api.put(
        "/titles/{title_id}/availability",
        summary="Set availability windows",
        response_model=AdminTitle,
    )
    async def set_availability(title_id: TitleId, body: AvailabilityIn) -> AdminTitle:
        """Replace every window of the title. An episode without windows of its own follows
        its series'."""
        changed = await service.set_availability(title_id, body.windows)
        await pages.forget(title_id)
        return changed

    @api.post("/titles/{title_id}/publish", summary="Publish", response_model=AdminTitle)
    async def publish(title_id: TitleId) -> AdminTitle:
        changed = await service.set_published(title_id, True)
        await pages.forget(title_id)
        return changed

    @api.post("/titles/{title_id}/unpublish", summary="Unpublish", response_model=AdminTitle)
    async def unpublish(title_id: TitleId) -> AdminTitle:
        changed = await service.set_published(title_id, False)
        await pages.forget(title_id)
        return changed

    @api.post(
        "/titles/{title_id}/asset", summary="Link a packaged asset", response_model=AdminTitle
    )
    async def link_asset(title_id: TitleId, body: LinkAsset) -> AdminTitle:
        """Play this asset for the title and take its poster, trickplay, duration and
        tallest rendition from the media service."""
        await service.admin_title(title_id)  # an unknown title is a 404 before asking media
        info = await assets.fetch(ctx.clients.get("media"), body.asset_id)
        linked = await service.link_asset(title_id, info)
        await pages.forget(title_id)
        return linked

    @api.get("/admin/titles", summary="Every title (admin)", response_model=AdminTitlePage)
    async def admin_titles(
        kind: Literal["movie", "series", "episode"] | None = None,
        sort: Literal["newest", "name"] = "name",
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> AdminTitlePage:
        """Titles published or not (episodes when ``kind=episode``)."""
        return await service.admin_titles(kind=kind, sort=sort, cursor=cursor, limit=limit)

    @api.get("/admin/titles/{title_id}", summary="A title (admin)", response_model=AdminTitle)
    async def admin_title(title_id: TitleId) -> AdminTitle:
        return await service.admin_title(title_id)

    return api


def _internal(service: CatalogService) -> APIRouter:
    api = APIRouter(prefix="/internal/catalog", tags=["catalog internal"])

    @api.get(
        "/titles/{title_id}", summary="A title for other services", response_model=InternalTitle
    )
    async def internal_title(title_id: TitleId) -> InternalTitle:
        """Any title, published or not, with its effective availability and next episode."""
        return await service.internal_title(title_id)

    @api.get(
        "/titles/{title_id}/available", summary="Is it available?", response_model=Availability
    )
    async def available(
        title_id: TitleId,
        country: Annotated[str | None, Query(pattern=COUNTRY_PATTERN)] = None,
        at: Annotated[float | None, Query(ge=0, le=MAX_EPOCH_S, description="epoch s")] = None,
    ) -> Availability:
        """Whether the title may be watched in ``country`` at ``at`` (default now), and if
        not, why: ``unpublished``, ``region`` (no window there) or ``window`` (not now)."""
        when = service.now() if at is None else datetime.fromtimestamp(at, UTC)
        return await service.availability(title_id, country or service.config.default_country, when)

    return api
