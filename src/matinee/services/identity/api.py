"""The identity service's public routes: ``/api/identity/...``, reached through the gateway.

Sign-up and sign-in answer the token in the body and as the ``matinee_session`` cookie
(HttpOnly, SameSite=Lax, Secure behind HTTPS). Every other route needs a signed-in caller; the
gateway vouches for the token, and these routes also check the session is still live, so a
sign-out or password change is felt here at once (elsewhere within the gateway's cache TTL).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response

from matinee.clock import Clock
from matinee.gateway.auth import SESSION_COOKIE
from matinee.runtime.identity import Callers
from matinee.services.identity.devices import DeviceHint, Devices
from matinee.services.identity.errors import InvalidCredentials, TooManyAttempts
from matinee.services.identity.pages import MAX_LIMIT
from matinee.services.identity.profiles import Profiles
from matinee.services.identity.schemas import (
    ErrorOut,
    MeOut,
    PasswordIn,
    PasswordOut,
    ProfileOut,
    SessionOut,
    SignInIn,
    SignUpIn,
)
from matinee.services.identity.service import IdentityService, IssuedSession
from matinee.telemetry.metrics import Registry

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")]
PageCursor = Annotated[
    str | None, Query(max_length=500, description="next_cursor of the previous page")
]
ProfileId = Annotated[str, Path(max_length=64)]
DeviceId = Annotated[str, Path(max_length=64)]


def errors_of(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorOut} for status in (*statuses, 422)}


@dataclass(frozen=True)
class Caller:
    """A signed-in caller whose session is live right now."""

    account_id: str
    session_id: str
    profile_id: str | None
    device_id: str | None
    expires_at: datetime


def client_address(request: Request) -> str:
    """The client's address: the right-most X-Forwarded-For entry, which the gateway added
    (anything to its left came from the client and is not trusted); else the peer address."""
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if hops:
        return hops[-1][:100]
    return request.client.host if request.client is not None else "unknown"


def _https(request: Request) -> bool:
    proto = request.headers.get("x-forwarded-proto") or request.url.scheme
    return proto.split(",")[-1].strip().lower() == "https"


def _hint(request: Request, device_id: str | None, name: str | None) -> DeviceHint:
    return DeviceHint(device_id, name, request.headers.get("user-agent"))


@contextmanager
def _limited() -> Iterator[None]:
    """A refused attempt answers 429 with Retry-After."""
    try:
        yield
    except TooManyAttempts as exc:
        headers = {"Retry-After": exc.retry_after_header}
        raise HTTPException(429, str(exc), headers=headers) from exc


def profile_out(profile: Any) -> ProfileOut:
    return ProfileOut.model_validate(profile, from_attributes=True)


@dataclass(frozen=True)
class Deps:
    """What the route modules share: the services, the caller check and the cookie."""

    identity: IdentityService
    profiles: Profiles
    devices: Devices
    callers: Callers
    clock: Clock

    async def caller(self, request: Request) -> Caller:
        """The signed-in caller (401 without one, or when its session has ended)."""
        who = self.callers.member(request)
        session = await self.identity.live_session(who.subject, who.session)
        return Caller(
            who.subject, session.id, session.profile_id, session.device_id, session.expires_at
        )

    def issue(self, request: Request, response: Response, issued: IssuedSession) -> SessionOut:
        """The session's answer body, with the session cookie set on ``response``."""
        expires = int(issued.expires_at.timestamp())
        response.set_cookie(
            SESSION_COOKIE,
            issued.token,
            max_age=max(0, expires - int(self.clock.time())),
            path="/",
            secure=_https(request),
            httponly=True,
            samesite="lax",
        )
        response.headers["Cache-Control"] = "no-store"
        return SessionOut(
            token=issued.token,
            expires_at=expires,
            account_id=issued.account_id,
            profile_id=issued.profile_id,
        )

    @staticmethod
    def forget(response: Response) -> None:
        """Clear the session cookie."""
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


def router(deps: Deps, metrics: Registry) -> APIRouter:
    """Sign-up, sign-in, sign-out, the account, the password."""
    api = APIRouter(prefix="/api/identity", tags=["identity"])
    identity = deps.identity
    # Evaluated here (this module has no postponed annotations) so FastAPI sees the dependency.
    Me = Annotated[Caller, Depends(deps.caller)]  # noqa: N806 - a type alias, named as one
    outcomes = {
        name: metrics.counter("identity.signin", outcome=name)
        for name in ("ok", "failed", "limited")
    }

    @api.post(
        "/signup",
        status_code=201,
        summary="Create an account and sign in",
        responses=errors_of(400, 429),
    )
    async def signup(body: SignUpIn, request: Request, response: Response) -> SessionOut:
        """A new member account in ``country`` (ISO 3166 alpha-2). A refusal never says
        whether the email is already registered."""
        with _limited():
            issued = await identity.signup(
                body.email,
                body.password,
                body.country,
                client=client_address(request),
                device=_hint(request, body.device_id, body.device_name),
            )
        return deps.issue(request, response, issued)

    @api.post("/signin", summary="Sign in with email and password", responses=errors_of(401, 429))
    async def signin(body: SignInIn, request: Request, response: Response) -> SessionOut:
        """A new session. Failed attempts are limited per email address and per client
        address (429 with Retry-After)."""
        try:
            with _limited():
                issued = await identity.signin(
                    body.email,
                    body.password,
                    client=client_address(request),
                    device=_hint(request, body.device_id, body.device_name),
                )
        except HTTPException:
            outcomes["limited"].inc()
            raise
        except InvalidCredentials:
            outcomes["failed"].inc()
            raise
        outcomes["ok"].inc()
        return deps.issue(request, response, issued)

    @api.post("/signout", status_code=204, summary="Sign out (end this session)")
    async def signout(request: Request, response: Response) -> None:
        """Ends the caller's session and clears the cookie; signing out twice is harmless."""
        who = deps.callers.optional(request)
        if who is not None and who.session is not None:
            await identity.signout(who.subject, who.session)
        deps.forget(response)

    @api.get("/me", summary="The signed-in account", responses=errors_of(401))
    async def me(me: Me) -> MeOut:
        account = await identity.account(me.account_id)
        profile = None
        if me.profile_id is not None:
            profile = profile_out(await deps.profiles.get(me.account_id, me.profile_id))
        return MeOut(
            id=account.id,
            email=account.email,
            country=account.country,
            roles=list(account.roles),
            created_at=account.created_at,
            session_id=me.session_id,
            expires_at=int(me.expires_at.timestamp()),
            profile=profile,
        )

    @api.post(
        "/password",
        summary="Change the password (signs out every other session)",
        responses=errors_of(401, 403, 429),
    )
    async def change_password(body: PasswordIn, me: Me) -> PasswordOut:
        with _limited():
            revoked = await identity.change_password(
                me.account_id, me.session_id, body.current_password, body.new_password
            )
        return PasswordOut(revoked_sessions=revoked)

    return api
