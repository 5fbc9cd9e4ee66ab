"""The identity service's internal routes (``/internal/identity/...``): called by the gateway
and other services through the client stack, never routed by the gateway.

* ``POST /internal/identity/sessions/validate`` ``{"token"}`` → who the session belongs to, or
  404 ``unknown_session`` (unknown, expired or revoked);
* ``GET /internal/identity/accounts/{account_id}`` → the account (404 when unknown);
* ``GET /internal/identity/profiles/{profile_id}`` → the profile, of any account (404).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from matinee.services.identity.profiles import Profiles
from matinee.services.identity.schemas import (
    AccountOut,
    ErrorOut,
    ProfileOut,
    ValidateIn,
    ValidateOut,
)
from matinee.services.identity.service import IdentityService

Id = Annotated[str, Path(max_length=64)]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}}


def router(identity: IdentityService, profiles: Profiles) -> APIRouter:
    api = APIRouter(prefix="/internal/identity", tags=["identity (internal)"])

    @api.post(
        "/sessions/validate",
        summary="Who a session token belongs to (the gateway asks)",
        responses=_NOT_FOUND,
    )
    async def validate(body: ValidateIn) -> ValidateOut:
        info = await identity.validate(body.token)
        return ValidateOut(
            account_id=info.account_id,
            profile_id=info.profile_id,
            roles=list(info.roles),
            session_id=info.session_id,
            expires_at=int(info.expires_at.timestamp()),
            country=info.country,
        )

    @api.get("/accounts/{account_id}", summary="An account", responses=_NOT_FOUND)
    async def account(account_id: Id) -> AccountOut:
        found = await identity.account(account_id)
        return AccountOut(
            id=found.id,
            email=found.email,
            country=found.country,
            roles=list(found.roles),
            created_at=found.created_at,
        )

    @api.get("/profiles/{profile_id}", summary="A profile of any account", responses=_NOT_FOUND)
    async def profile(profile_id: Id) -> ProfileOut:
        return ProfileOut.model_validate(await profiles.any(profile_id), from_attributes=True)

    return api
