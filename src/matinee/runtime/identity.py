"""Who is calling a service: the identity the gateway verified and signed.

Routes take the caller as a FastAPI dependency::

    caller = Callers(ctx)
    @router.get("/api/x")
    async def x(who: Identity = Depends(caller.member)) -> ...

``optional`` gives None for an anonymous caller, ``member`` answers 401 without a signed-in
caller (503 with Retry-After when the caller showed a token the gateway could not check
because the identity service was unavailable), ``profile`` also needs a selected profile
(403 otherwise) and ``admin`` needs the admin role (403). A forged or stale identity header
counts as no identity at all.
"""

from __future__ import annotations

import logging

from fastapi import HTTPException, Request

from matinee.gateway.auth import UNVERIFIED_HEADER, Identity, InvalidIdentity, verify_identity
from matinee.runtime.context import ServiceContext

log = logging.getLogger(__name__)

ADMIN_ROLE = "admin"
MAX_AGE_S = 300.0  # a signed identity older than this is refused (replayed headers)
UNVERIFIED_RETRY_S = 5  # about one breaker sleep window


class Callers:
    """FastAPI dependencies that read the signed identity with the fleet's identity key."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.key = ctx.config.identity_key or b""
        self._forged = ctx.metrics.counter("identity.forged", service=ctx.service)

    def optional(self, request: Request) -> Identity | None:
        if not self.key:
            return None
        try:
            return verify_identity(
                request.headers, self.key, now=self.ctx.clock.time(), max_age=MAX_AGE_S
            )
        except InvalidIdentity as exc:
            self._forged.inc()
            log.warning("ignoring an identity header: %s", exc)
            return None

    def member(self, request: Request) -> Identity:
        identity = self.optional(request)
        if identity is None:
            if UNVERIFIED_HEADER in request.headers:  # a token came, identity could not check it
                raise HTTPException(
                    503,
                    "Your session could not be checked right now; please try again shortly.",
                    headers={"Retry-After": str(UNVERIFIED_RETRY_S)},
                )
            raise HTTPException(401, "Sign in first: this request needs a valid session.")
        return identity

    def profile(self, request: Request) -> Identity:
        identity = self.member(request)
        if identity.profile is None:
            raise HTTPException(403, "Choose a profile first.")
        return identity

    def admin(self, request: Request) -> Identity:
        identity = self.member(request)
        if ADMIN_ROLE not in identity.roles:
            raise HTTPException(403, "This needs an administrator.")
        return identity
