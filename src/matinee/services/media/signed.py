"""Packaged media behind signed URLs: ``GET/HEAD /t/<token>/media/assets/<id>/...``.

The playback service hands players URLs of this shape (``delivery.tokens``). Each request is
checked before anything is read: a path that is not plain (``..``, ``%2e``, ``%252e``, ``\\``)
gets 400; a token that was altered, has expired, covers another folder or another client
address, or a rendition taller than the token allows, gets 403. Then the object is served as
``/media/...`` serves it, except the rendition-listing manifests (HLS master, DASH MPD), which
are cut to the token's height cap (``delivery.manifests``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from matinee.clock import Clock
from matinee.delivery.access import RenditionGuard, SignedAccess
from matinee.delivery.manifests import filter_manifest
from matinee.delivery.tokens import UrlSigner, signing_key
from matinee.media.package import HLS_MASTER
from matinee.platform import Platform
from matinee.services.media.objects import (
    bytes_response,
    object_response,
    preflight_response,
    representation,
)
from matinee.storage.errors import InvalidKey, ObjectNotFound

MEDIA = "media/"  # signed paths name media as the /media/ route does: media/assets/<id>/...
MANIFESTS = (".m3u8", ".mpd")


def signed_access(platform: Platform, key: bytes | None, clock: Clock) -> SignedAccess:
    """The checks for signed requests, reading rendition folders from each title's master."""

    def read_master(prefix: str) -> str | None:
        try:
            body = platform.objects.read_bytes(prefix.removeprefix(MEDIA) + HLS_MASTER)
        except (ObjectNotFound, InvalidKey):
            return None
        return body.decode("utf-8", errors="replace")

    return SignedAccess(UrlSigner(signing_key(key), clock), RenditionGuard(read_master))


def client_address(request: Request) -> str | None:
    """The client's address: the first hop the gateway recorded, else the peer."""
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.split(",", 1)[0].strip()
    return request.client.host if request.client else None


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The path is not a plain relative path (unsafe_path)"},
    403: {"description": "The token was altered, has expired or does not cover it"},
    404: {"description": "No such object"},
}


def router(platform: Platform, access: SignedAccess) -> APIRouter:
    api = APIRouter(tags=["media"])

    def serve(token: str, path: str, request: Request) -> Response:
        claims = access.check(token, path, client_ip=client_address(request))
        key = path.removeprefix(MEDIA)
        if key == path or not key.startswith("assets/"):
            raise HTTPException(404, "Only packaged assets are served.")
        if claims.max_height is None or not key.endswith(MANIFESTS):
            return object_response(platform, key, request)
        # A filtered manifest differs per token: its own entity tag, kept privately and briefly.
        mtime = representation(platform, key).mtime
        body = filter_manifest(key, platform.objects.read_bytes(key), claims.max_height)
        return bytes_response(key, body, mtime, request)

    @api.get(
        "/t/{token}/{path:path}", summary="Packaged media through a signed URL", responses=ERRORS
    )
    def signed_media(token: str, path: str, request: Request) -> Response:
        """One object of a title's package, if the token in the path allows it. Manifests
        that list renditions come cut to the token's maximum height."""
        return serve(token, path, request)

    # A route of its own (not one route with two methods): each needs its own operation id.
    @api.head("/t/{token}/{path:path}", summary="Headers of signed media", responses=ERRORS)
    def signed_media_head(token: str, path: str, request: Request) -> Response:
        """What GET would answer, without the body."""
        return serve(token, path, request)

    @api.options("/t/{token}/{path:path}", summary="CORS preflight for signed media")
    def signed_media_preflight(token: str, path: str, request: Request) -> Response:
        """What a browser player may send (Range, validators) from any origin."""
        del token, path
        return preflight_response(request)

    return api
