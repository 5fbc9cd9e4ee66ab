"""Signed URL tokens: who may fetch which media, until when, and at what height.

A token is three dot-separated parts, each in URL-safe characters only::

    v1.<payload>.<signature>

``payload`` is base64url (no padding) of compact JSON claims, ``signature`` is base64url of
HMAC-SHA256 over ``v1.<payload>`` with the fleet's URL-signing key. The claims are:

* ``p``: the path prefix the token is bound to, e.g. ``media/assets/<id>/`` (always ends ``/``);
* ``e``: expiry, whole seconds since the epoch;
* ``h``: the tallest video rendition allowed (pixels), or absent for no limit;
* ``ip``: the client address the token is bound to, or absent.

The token sits in the URL's path, before the media path: ``/t/<token>/media/assets/<id>/...``.
So a manifest's relative segment URLs resolve under the same ``/t/<token>/`` and keep it, and a
CDN edge can check the token without a query string. Verification checks the signature first
(constant time), then the expiry, then that the path is under the prefix, then the address.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
from dataclasses import dataclass

from matinee.clock import Clock
from matinee.delivery.errors import (
    TokenExpired,
    TokenInvalid,
    TokenWrongClient,
    TokenWrongPath,
)
from matinee.delivery.paths import safe_path, safe_prefix

__all__ = [
    "Claims",
    "TokenExpired",
    "TokenInvalid",
    "TokenWrongClient",
    "TokenWrongPath",
    "UrlSigner",
    "signed_path",
    "signing_key",
]

log = logging.getLogger(__name__)

VERSION = "v1"
MAX_TOKEN = 2048
_PART = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True, slots=True)
class Claims:
    """What a token allows: paths under ``prefix`` until ``expires`` (epoch seconds), video up
    to ``max_height`` pixels (None: any), from ``client_ip`` only (None: any address)."""

    prefix: str
    expires: int
    max_height: int | None = None
    client_ip: str | None = None

    def to_json(self) -> bytes:
        claims: dict[str, object] = {"p": self.prefix, "e": self.expires}
        if self.max_height is not None:
            claims["h"] = self.max_height
        if self.client_ip is not None:
            claims["ip"] = self.client_ip
        return json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Claims:
        try:
            claims = json.loads(raw)
        except ValueError as exc:
            raise TokenInvalid("The media token is not readable.") from exc
        if not isinstance(claims, dict):
            raise TokenInvalid("The media token is not readable.")
        prefix, expires = claims.get("p"), claims.get("e")
        height, ip = claims.get("h"), claims.get("ip")
        if not isinstance(prefix, str) or type(expires) is not int:
            raise TokenInvalid("The media token lacks its path or expiry.")
        if height is not None and type(height) is not int:
            raise TokenInvalid("The media token's height limit is not a number.")
        if ip is not None and not isinstance(ip, str):
            raise TokenInvalid("The media token's client address is not text.")
        return cls(prefix, expires, height, ip)


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not _PART.match(text):
        raise TokenInvalid("The media token is not readable.")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TokenInvalid("The media token is not readable.") from exc


class UrlSigner:
    """Makes and checks tokens with one key (the playback service signs; origin and edges
    verify). ``clock`` gives the time tokens expire against."""

    def __init__(self, key: bytes, clock: Clock) -> None:
        if len(key) < 16:
            raise ValueError("a URL-signing key needs at least 16 bytes")
        self._key = key
        self.clock = clock

    def _mac(self, signed: str) -> bytes:
        return hmac.new(self._key, signed.encode("ascii"), hashlib.sha256).digest()

    def sign(self, claims: Claims) -> str:
        """The token for ``claims`` (its prefix must be a plain relative path ending ``/``)."""
        safe_prefix(claims.prefix)
        signed = f"{VERSION}.{_b64encode(claims.to_json())}"
        return f"{signed}.{_b64encode(self._mac(signed))}"

    def issue(
        self,
        prefix: str,
        ttl: float,
        *,
        max_height: int | None = None,
        client_ip: str | None = None,
    ) -> tuple[str, Claims]:
        """A token for ``prefix`` that expires ``ttl`` seconds from now, with its claims."""
        claims = Claims(prefix, int(self.clock.time() + ttl), max_height, client_ip)
        return self.sign(claims), claims

    def claims(self, token: str) -> Claims:
        """The claims of a token signed with our key, expired or not; else TokenInvalid."""
        if len(token) > MAX_TOKEN:
            raise TokenInvalid("The media token is too long.")
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != VERSION or not _PART.match(parts[1]):
            raise TokenInvalid("The media token is not readable.")
        signature = _b64decode(parts[2])
        if not hmac.compare_digest(signature, self._mac(f"{parts[0]}.{parts[1]}")):
            raise TokenInvalid("The media token's signature does not match: it was altered.")
        return Claims.from_json(_b64decode(parts[1]))

    def verify(self, token: str, path: str, *, client_ip: str | None = None) -> Claims:
        """The claims of ``token`` if it allows ``path`` (a relative media path such as
        ``media/assets/<id>/video/720p/00001.m4s``) now, from ``client_ip``.

        Raises UnsafePath (a traversal or odd path), TokenInvalid, TokenExpired,
        TokenWrongPath or TokenWrongClient."""
        safe_path(path)
        return self.check(self.claims(token), path, client_ip=client_ip)

    def check(self, claims: Claims, path: str, *, client_ip: str | None = None) -> Claims:
        """``claims`` (of a token whose signature was checked) if they allow ``path`` (already
        a safe path) now, from ``client_ip``: what :meth:`verify` checks after the signature,
        for a server that remembers the claims of tokens it has seen."""
        if self.clock.time() >= claims.expires:
            raise TokenExpired("This media link has expired: start playback again.")
        if not claims.prefix.endswith("/") or not path.startswith(claims.prefix):
            raise TokenWrongPath("This media link does not cover that file.")
        if claims.client_ip is not None and claims.client_ip != client_ip:
            raise TokenWrongClient("This media link was issued to another network address.")
        return claims


def signing_key(configured: bytes | None) -> bytes:
    """The fleet's URL-signing key (``RuntimeConfig.url_signing_key``); without one, a random
    key for this process only, so URLs signed in another process will not verify here."""
    if configured:
        return configured
    log.warning("no URL-signing key configured: signed media URLs work in this process only")
    return os.urandom(32)


def signed_path(token: str, path: str) -> str:
    """The URL path that fetches ``path`` with ``token``: ``/t/<token>/<path>``."""
    return f"/t/{token}/{path.lstrip('/')}"
