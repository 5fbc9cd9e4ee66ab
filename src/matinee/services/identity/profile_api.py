"""The profile routes: ``/api/identity/profiles`` (the caller's own account only; another
account's profile id is 404) and the avatars a profile may use."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from matinee.services.identity.api import (
    Caller,
    Deps,
    Limit,
    PageCursor,
    ProfileId,
    errors_of,
    profile_out,
)
from matinee.services.identity.pages import DEFAULT_LIMIT
from matinee.services.identity.profiles import AVATARS, ProfileFields
from matinee.services.identity.schemas import (
    AvatarsOut,
    ProfileIn,
    ProfileOut,
    ProfilePage,
    ProfilePatch,
    SessionOut,
)


def router(deps: Deps) -> APIRouter:
    api = APIRouter(prefix="/api/identity", tags=["identity"])
    profiles = deps.profiles
    # Evaluated here (this module has no postponed annotations) so FastAPI sees the dependency.
    Me = Annotated[Caller, Depends(deps.caller)]  # noqa: N806 - a type alias, named as one

    @api.get("/avatars", summary="The avatars a profile may use")
    async def avatars() -> AvatarsOut:
        return AvatarsOut(avatars=list(AVATARS))

    @api.get("/profiles", summary="The account's profiles", responses=errors_of(401))
    async def list_profiles(
        me: Me, limit: Limit = DEFAULT_LIMIT, cursor: PageCursor = None
    ) -> ProfilePage:
        page = await profiles.list(me.account_id, cursor, limit)
        return ProfilePage(items=[profile_out(p) for p in page.items], next_cursor=page.next_cursor)

    @api.post("/profiles", status_code=201, summary="Add a profile", responses=errors_of(401, 409))
    async def create_profile(body: ProfileIn, me: Me) -> ProfileOut:
        """At most five per account (409 ``profile_limit_reached``); a kids profile defaults
        to maturity 7 and never goes above 12."""
        fields = ProfileFields(
            body.name, body.avatar, body.language, body.maturity_level, body.kids
        )
        return profile_out(await profiles.create(me.account_id, fields))

    @api.get("/profiles/{profile_id}", summary="One profile", responses=errors_of(401, 404))
    async def get_profile(profile_id: ProfileId, me: Me) -> ProfileOut:
        return profile_out(await profiles.get(me.account_id, profile_id))

    @api.patch(
        "/profiles/{profile_id}", summary="Change a profile", responses=errors_of(401, 404, 409)
    )
    async def update_profile(profile_id: ProfileId, body: ProfilePatch, me: Me) -> ProfileOut:
        fields = ProfileFields(
            body.name, body.avatar, body.language, body.maturity_level, body.kids
        )
        return profile_out(await profiles.update(me.account_id, profile_id, fields))

    @api.delete(
        "/profiles/{profile_id}",
        status_code=204,
        summary="Delete a profile",
        responses=errors_of(401, 404),
    )
    async def delete_profile(profile_id: ProfileId, me: Me) -> None:
        """Sessions that had selected it end too."""
        await profiles.delete(me.account_id, profile_id)

    @api.post(
        "/profiles/{profile_id}/select",
        summary="Watch as this profile (a new session token)",
        responses=errors_of(401, 404),
    )
    async def select_profile(
        profile_id: ProfileId, me: Me, request: Request, response: Response
    ) -> SessionOut:
        """Answers a new token bound to the profile (also as the cookie) and ends the old one;
        the gateway then tells every service which profile is watching."""
        issued = await profiles.select(me.account_id, me.session_id, profile_id)
        return deps.issue(request, response, issued)

    return api
