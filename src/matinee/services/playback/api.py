"""The playback service's public routes: start, heartbeat, refresh and stop a stream.

No postponed annotations here: FastAPI must see the ``Member`` dependency alias, which is made
inside :func:`router`, when it reads the route signatures.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from matinee.gateway.auth import Identity
from matinee.runtime.identity import Callers
from matinee.services.playback import schemas
from matinee.services.playback.service import Client, PlaybackService


def _error(description: str, *codes: str) -> dict[str, Any]:
    examples = {
        code: {"value": {"error": code, "message": "...", "request_id": "3f1c..."}}
        for code in codes
    }
    return {
        "description": description,
        "content": {"application/json": {"examples": examples}},
    }


START_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error("No valid session", "unauthorized", "session_expired"),
    403: _error(
        "The play is refused; the code says why",
        "subscription_inactive",
        "title_unavailable",
        "region_unavailable",
        "maturity_restricted",
        "no_profile",
        "rendition_unavailable",
    ),
    404: _error("No such title", "title_not_found"),
    409: _error("Every stream the plan allows is playing", "stream_limit_reached"),
    503: _error("A check could not be made", "dependency_unavailable"),
}
LEASE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error("No valid session", "unauthorized"),
    404: _error("No such stream of this account", "lease_not_found"),
}


def client_of(request: Request) -> Client:
    """The base URL the client used to reach the gateway (from the X-Forwarded-Proto/Host the
    gateway sets, else the Host header) and its address (the first X-Forwarded-For hop)."""
    headers = request.headers
    proto = (headers.get("x-forwarded-proto") or request.url.scheme).split(",", 1)[0].strip()
    host = (
        (headers.get("x-forwarded-host") or headers.get("host") or request.url.netloc)
        .split(",", 1)[0]
        .strip()
    )
    forwarded_for = headers.get("x-forwarded-for")
    if forwarded_for:
        ip: str | None = forwarded_for.split(",", 1)[0].strip()
    else:
        ip = request.client.host if request.client else None
    return Client(origin=f"{proto}://{host}", ip=ip)


def router(service: PlaybackService, callers: Callers) -> APIRouter:
    api = APIRouter(prefix="/api/playback", tags=["playback"])
    Member = Annotated[Identity, Depends(callers.member)]  # noqa: N806 - a type alias

    @api.post("/start", summary="Authorize a play", responses=START_ERRORS)
    async def start(body: schemas.StartIn, request: Request, who: Member) -> schemas.StartOut:
        """Check session, subscription, availability in the member's country, the profile's
        maturity level and the plan's stream limit; then return a stream lease, the renditions
        the plan allows, signed manifest URLs and the hosts to fetch them from."""
        return await service.start(who, body.title_id, body.device_id, client_of(request))

    @api.post(
        "/heartbeat",
        summary="Keep a stream alive",
        responses={**LEASE_ERRORS, 410: _error("The stream lapsed; start again", "lease_expired")},
    )
    async def heartbeat(body: schemas.LeaseIn, who: Member) -> schemas.HeartbeatOut:
        """Renew the stream's lease; send one every ``heartbeat_interval_s`` seconds."""
        return await service.heartbeat(who, body.lease_id)

    @api.post(
        "/refresh",
        summary="New signed URLs for a stream still playing",
        responses={
            **START_ERRORS,
            **LEASE_ERRORS,
            403: START_ERRORS[403],
            404: _error("No such stream of this account, or title", "lease_not_found"),
            410: _error("The stream lapsed; start again", "lease_expired"),
        },
    )
    async def refresh(body: schemas.LeaseIn, request: Request, who: Member) -> schemas.RefreshOut:
        """Signed URLs work for ``urls_expire_at``; before then, a player that is still playing
        asks for new ones here. The play is checked again as at the start (a refusal ends the
        stream), and the lease is renewed."""
        return await service.refresh(who, body.lease_id, client_of(request))

    @api.post("/stop", summary="End a stream", responses={401: LEASE_ERRORS[401]})
    async def stop(body: schemas.LeaseIn, who: Member) -> schemas.StopOut:
        """Release the stream's lease, so the plan's slot is free at once."""
        return await service.stop(who, body.lease_id)

    return api
