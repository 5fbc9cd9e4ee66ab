"""The gateway's token validator: it asks the identity service who a session token belongs to.

:class:`IdentityValidator` calls ``POST /internal/identity/sessions/validate`` through the
client stack (discovery, balancer, breaker, retries on another instance). A 200 is the
:class:`Identity` the gateway signs; a 404 (``unknown_session``) is None: nobody is signed in.

When the identity service cannot answer (no instance, breaker open, timeout, 5xx), the token
can be neither accepted nor refused, so the validator raises :class:`IdentityUnavailable`.
The auth filter turns that into a counted fallback: a route whose policy is ``optional``
goes on anonymously (``gateway.auth.unverified``), one whose policy is ``required`` answers
503 ``identity_unavailable``. Answering 401 there would tell a signed-in member that their
session is bad, and sending them to sign in again cannot help while identity is down.

:func:`session_validator` wraps it in :class:`CachingTokenValidator` with a 5 s TTL (unknown
tokens 5 s as well), so the identity service sees about one validation per token per 5 s per
gateway. The price: a sign-out, a password change (which ends every other session), a
removed device or a switched profile takes effect at the gateway within those 5 s. The
identity service's own routes check the session on every request, so they feel it at once.
"""

from __future__ import annotations

import json
import logging
import re

from matinee.clock import Clock
from matinee.gateway.auth import CachingTokenValidator, Identity, IdentityUnavailable
from matinee.gateway.proxy import Upstreams
from matinee.resilience.errors import ResilienceError
from matinee.telemetry.metrics import Registry

log = logging.getLogger(__name__)

SERVICE = "identity"
VALIDATE_PATH = "/internal/identity/sessions/validate"
CACHE_TTL_S = 5.0
MAX_TOKEN = 512
# Tokens are URL-safe base64 (secrets.token_urlsafe); anything else is not one of ours.
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,512}$")
_HEADERS = (("content-type", "application/json"), ("accept", "application/json"))


class IdentityValidator:
    """A :class:`~matinee.gateway.auth.TokenValidator` backed by the identity service."""

    def __init__(self, upstreams: Upstreams, metrics: Registry) -> None:
        self.upstreams = upstreams
        self._outcomes = {
            name: metrics.counter("gateway.auth.validation", outcome=name)
            for name in ("valid", "unknown", "unavailable")
        }
        self._down = False

    async def validate(self, token: str) -> Identity | None:
        if not _TOKEN.match(token):
            self._outcomes["unknown"].inc()
            return None
        body = json.dumps({"token": token}).encode()
        try:
            response = await self.upstreams.get(SERVICE).request(
                "POST", VALIDATE_PATH, headers=_HEADERS, body=body, idempotent=True
            )
        except ResilienceError as exc:
            self._outcomes["unavailable"].inc()
            if not self._down:
                self._down = True
                log.warning("identity service unavailable (%s); tokens cannot be checked", exc)
            raise IdentityUnavailable(
                "Signing in is unavailable right now; please try again shortly."
            ) from exc
        if self._down:
            self._down = False
            log.warning("identity service answers again; tokens are checked")
        if response.status == 200:
            identity = _identity(response.body)
            if identity is not None:
                self._outcomes["valid"].inc()
                return identity
        elif response.status != 404:
            log.warning(
                "identity answered %d to a validation; treating as unknown", response.status
            )
        self._outcomes["unknown"].inc()
        return None


def _identity(body: bytes) -> Identity | None:
    """The identity in a validation answer (None, logged, if it is not one)."""
    try:
        data = json.loads(body)
        return Identity(
            subject=str(data["account_id"]),
            profile=None if data.get("profile_id") is None else str(data["profile_id"]),
            roles=tuple(str(r) for r in data.get("roles", ())),
            session=str(data["session_id"]),
            expires=float(data["expires_at"]),
            country=None if data.get("country") is None else str(data["country"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("identity's validation answer is malformed: %s", exc)
        return None


def session_validator(
    upstreams: Upstreams, clock: Clock, metrics: Registry
) -> CachingTokenValidator:
    """The gateway's validator: :class:`IdentityValidator` behind a 5 s cache."""
    return CachingTokenValidator(
        IdentityValidator(upstreams, metrics), clock, ttl=CACHE_TTL_S, negative_ttl=CACHE_TTL_S
    )
