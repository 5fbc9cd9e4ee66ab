"""Authentication offload: the gateway checks the session token once, services trust a signature.

The gateway:

1. strips every ``x-matinee-*`` header the client sent (that namespace is internal, so a client
   cannot forge an identity or any other internal header);
2. takes the session token from ``Authorization: Bearer ...`` or the session cookie and asks an
   injected :class:`TokenValidator` who it belongs to (once; :class:`CachingTokenValidator`
   keeps answers for a few seconds so the identity service is not asked on every request);
3. passes the verified :class:`Identity` upstream in ``x-matinee-identity`` with an HMAC-SHA256
   signature in ``x-matinee-identity-sig``.

A service calls :func:`verify_identity` with the shared key to read it back.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from matinee.clock import Clock
from matinee.errors import MatineeError
from matinee.gateway.errors import GatewayError, Unauthorized
from matinee.gateway.filters import RequestContext
from matinee.gateway.response import GatewayResponse
from matinee.telemetry.metrics import Registry

INTERNAL_PREFIX = "x-matinee-"
IDENTITY_HEADER = "x-matinee-identity"
SIGNATURE_HEADER = "x-matinee-identity-sig"
# Sent instead of an identity when the caller showed a token that could not be checked (the
# identity service was unavailable): a service that needs a member answers 503, not 401, so
# a signed-in member is not sent back to sign in. Internal, so clients cannot send it.
UNVERIFIED_HEADER = "x-matinee-identity-unverified"
SESSION_COOKIE = "matinee_session"
_VERSION = b"v1"


class InvalidIdentity(MatineeError):
    """An identity header is present but its signature, encoding or age is wrong."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is calling, as the identity service vouched for it."""

    subject: str
    profile: str | None = None
    roles: tuple[str, ...] = ()
    session: str | None = None
    expires: float | None = None
    country: str | None = None

    def to_claims(self) -> dict[str, object]:
        claims: dict[str, object] = {"sub": self.subject}
        if self.profile is not None:
            claims["pro"] = self.profile
        if self.roles:
            claims["roles"] = list(self.roles)
        if self.session is not None:
            claims["sid"] = self.session
        if self.expires is not None:
            claims["exp"] = self.expires
        if self.country is not None:
            claims["cty"] = self.country
        return claims

    @classmethod
    def from_claims(cls, claims: Mapping[str, object]) -> Identity:
        sub, pro, roles = claims.get("sub"), claims.get("pro"), claims.get("roles", [])
        sid, exp, cty = claims.get("sid"), claims.get("exp"), claims.get("cty")
        if not isinstance(sub, str) or not sub:
            raise InvalidIdentity("the identity has no subject")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise InvalidIdentity("the identity's roles are not a list of names")
        return cls(
            subject=sub,
            profile=pro if isinstance(pro, str) else None,
            roles=tuple(str(r) for r in roles),
            session=sid if isinstance(sid, str) else None,
            expires=float(exp) if isinstance(exp, int | float) else None,
            country=cty if isinstance(cty, str) else None,
        )


class IdentityUnavailable(GatewayError):
    """A validator could not check the token (its identity service did not answer)."""

    status = 503
    code = "identity_unavailable"


class TokenValidator(Protocol):
    async def validate(self, token: str) -> Identity | None:
        """The identity the session token belongs to, or None if it is unknown or expired.
        Raises :class:`IdentityUnavailable` when it cannot tell."""
        ...


class CachingTokenValidator:
    """Remembers answers (good for ``ttl`` s, unknown tokens for ``negative_ttl`` s), and asks
    once for a token however many requests carry it at the same time: a page that opens with
    thirty calls costs the identity service one validation, not thirty (which would fill its
    bulkhead and open its breaker for everybody)."""

    def __init__(
        self,
        inner: TokenValidator,
        clock: Clock,
        *,
        ttl: float = 30.0,
        negative_ttl: float = 5.0,
        max_entries: int = 10_000,
    ) -> None:
        self.inner = inner
        self.clock = clock
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.max_entries = max_entries
        self._cache: dict[str, tuple[float, Identity | None]] = {}
        self._asking: dict[str, asyncio.Task[Identity | None]] = {}

    async def validate(self, token: str) -> Identity | None:
        now = self.clock.monotonic()
        hit = self._cache.get(token)
        if hit is not None and hit[0] > now:
            identity = hit[1]
            if identity is None or identity.expires is None or identity.expires > self.clock.time():
                return identity
        asking = self._asking.get(token)
        if asking is None:
            # A task of its own, so a caller that goes away does not cancel the others' answer.
            asking = asyncio.ensure_future(self._ask(token))
            self._asking[token] = asking
            asking.add_done_callback(lambda task: self._asked(token, task))
        return await asyncio.shield(asking)

    def _asked(self, token: str, task: asyncio.Task[Identity | None]) -> None:
        self._asking.pop(token, None)
        if not task.cancelled():
            task.exception()  # retrieved: every caller may have gone before it failed

    async def _ask(self, token: str) -> Identity | None:
        identity = await self.inner.validate(token)
        now = self.clock.monotonic()
        ttl = self.ttl if identity is not None else self.negative_ttl
        if len(self._cache) >= self.max_entries:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
        self._cache[token] = (now + ttl, identity)
        return identity


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, payload: str) -> str:
    mac = hmac.new(key, _VERSION + b"." + payload.encode("ascii"), hashlib.sha256)
    return _VERSION.decode() + "." + _b64(mac.digest())


def identity_headers(identity: Identity, key: bytes, issued_at: float) -> list[tuple[str, str]]:
    """The two internal headers that carry ``identity`` to a service."""
    claims = identity.to_claims()
    claims["iat"] = int(issued_at)
    payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    return [(IDENTITY_HEADER, payload), (SIGNATURE_HEADER, _sign(key, payload))]


HeaderSource = Mapping[str, str] | Iterable[tuple[str, str]] | Iterable[tuple[bytes, bytes]]


def _lookup(headers: HeaderSource, name: str) -> str | None:
    if isinstance(headers, Mapping):
        value = headers.get(name)
        return value if isinstance(value, str) else None
    for k, v in headers:
        key = k.decode("latin-1") if isinstance(k, bytes) else k
        if key.lower() == name:
            return v.decode("latin-1") if isinstance(v, bytes) else v
    return None


def verify_identity(
    headers: HeaderSource,
    key: bytes,
    *,
    now: float | None = None,
    max_age: float | None = None,
) -> Identity | None:
    """The identity the gateway signed, None when there is none.

    Raises :class:`InvalidIdentity` when the header is there but was not signed with ``key``
    (or is older than ``max_age`` seconds at ``now``): treat that caller as unauthenticated.
    """
    payload = _lookup(headers, IDENTITY_HEADER)
    signature = _lookup(headers, SIGNATURE_HEADER)
    if payload is None and signature is None:
        return None
    if payload is None or signature is None:
        raise InvalidIdentity("the identity header comes without its signature")
    try:
        expected = _sign(key, payload)
    except UnicodeEncodeError as exc:
        raise InvalidIdentity("the identity header is not ASCII") from exc
    if not hmac.compare_digest(expected, signature):
        raise InvalidIdentity("the identity signature does not match")
    try:
        claims = json.loads(_unb64(payload))
    except (ValueError, binascii.Error) as exc:
        raise InvalidIdentity("the identity header is not valid encoded JSON") from exc
    if not isinstance(claims, dict):
        raise InvalidIdentity("the identity header is not a JSON object")
    if max_age is not None and now is not None:
        iat = claims.get("iat")
        if not isinstance(iat, int | float) or now - iat > max_age:
            raise InvalidIdentity("the identity header is too old")
    return Identity.from_claims(claims)


def session_token(ctx: RequestContext, cookie_name: str = SESSION_COOKIE) -> str | None:
    """The bearer token, else the session cookie's value."""
    authorization = ctx.header("authorization")
    if authorization is not None and authorization[:7].lower() == "bearer ":
        token = authorization[7:].strip()
        return token or None
    cookies = ctx.header("cookie")
    if cookies is not None and cookie_name in cookies:
        for part in cookies.split(";"):
            name, _, value = part.strip().partition("=")
            if name == cookie_name and value:
                return value.strip('"')
    return None


class AuthFilter:
    """Inbound filter (order 40): strip internal headers, validate the token, sign the identity."""

    name = "auth"
    order = 40

    def __init__(
        self,
        validator: TokenValidator | None,
        key: bytes,
        clock: Clock,
        metrics: Registry,
        *,
        cookie_name: str = SESSION_COOKIE,
    ) -> None:
        self.validator = validator
        self.key = key
        self.clock = clock
        self.cookie_name = cookie_name
        self._stripped = metrics.counter("gateway.auth.stripped")
        self._rejected = metrics.counter("gateway.auth.rejected")
        self._unverified = metrics.counter("gateway.auth.unverified")
        self._signed: dict[Identity, tuple[int, list[tuple[str, str]]]] = {}

    def should_filter(self, ctx: RequestContext) -> bool:
        return True

    async def apply(self, ctx: RequestContext) -> GatewayResponse | None:
        headers = ctx.headers
        for k, _ in headers:
            if k.startswith(INTERNAL_PREFIX):
                ctx.headers = [(k, v) for k, v in headers if not k.startswith(INTERNAL_PREFIX)]
                self._stripped.inc()
                break
        route = ctx.route
        policy = route.auth if route is not None else "optional"
        if policy == "none":
            return None
        token = session_token(ctx, self.cookie_name)
        identity = None
        if token is not None and self.validator is not None:
            try:
                identity = await self.validator.validate(token)
            except IdentityUnavailable:
                if policy == "required":
                    raise  # 503: a 401 would wrongly tell a member their session is bad
                self._unverified.inc()  # the counted fallback: go on anonymously
                ctx.upstream_headers.append((UNVERIFIED_HEADER, "1"))
                return None
        if identity is None:
            if policy == "required":
                self._rejected.inc()
                raise Unauthorized(
                    "Sign in first: this request needs a valid session."
                    if token is None
                    else "The session is unknown or has expired; sign in again."
                )
            return None
        ctx.identity = identity
        ctx.upstream_headers.extend(self._headers_for(identity))
        return None

    def _headers_for(self, identity: Identity) -> list[tuple[str, str]]:
        second = int(self.clock.time())
        cached = self._signed.get(identity)
        if cached is not None and cached[0] == second:
            return cached[1]
        if len(self._signed) > 4096:
            self._signed.clear()
        headers = identity_headers(identity, self.key, second)
        self._signed[identity] = (second, headers)
        return headers
