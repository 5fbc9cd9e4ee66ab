"""The homepage's route: ``GET /api/homepage`` (a signed-in member with a profile chosen)."""

# No ``from __future__ import annotations`` here: FastAPI must see the ``Viewer`` dependency
# (built from this service's Callers inside ``router``) as an object, not as a string.

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from matinee.gateway.auth import Identity
from matinee.runtime.context import ServiceContext
from matinee.runtime.identity import Callers
from matinee.services.homepage.schemas import HomePage
from matinee.services.homepage.service import HomepageService


def router(ctx: ServiceContext, service: HomepageService) -> APIRouter:
    callers = Callers(ctx)
    Viewer = Annotated[Identity, Depends(callers.profile)]  # noqa: N806 - a type alias
    api = APIRouter(prefix="/api/homepage", tags=["homepage"])

    @api.get(
        "",
        summary="The home page's rows for the chosen profile",
        response_model=HomePage,
        responses={404: {"description": "the profile no longer exists"}},
    )
    async def homepage(viewer: Viewer) -> Response:
        """Continue watching, because you watched, new, popular in the member's country and
        one row per genre; only titles the profile's maturity level and the member's country
        allow. Sources that could not answer are named in ``degraded``."""
        body = await service.page(viewer)
        return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})

    return api
