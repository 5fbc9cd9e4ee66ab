"""Errors of the edge appliance, and the HTTP status each one is answered with.

CdnError
└── EdgeError
    ├── ObjectMissing        the origin has no such object: 404
    ├── NotHeld              a peer asked for an object this edge does not hold: 404
    ├── UpstreamUnavailable  neither a peer nor the origin could deliver it: 502
    └── InvalidFill          a fill request names keys that are not media objects: 422
"""

from __future__ import annotations

from matinee.cdn.errors import CdnError
from matinee.delivery.errors import AccessDenied, NoRenditionAllowed, UnsafePath


class EdgeError(CdnError):
    """Base of the edge appliance's errors."""


class ObjectMissing(EdgeError):
    """The origin answered that the object does not exist."""

    code = "object_not_found"


class NotHeld(EdgeError):
    """This edge does not hold the object a peer asked for (peers never fill for peers)."""

    code = "not_held"


class UpstreamUnavailable(EdgeError):
    """No peer held the object and no origin delivered it whole."""

    code = "upstream_unavailable"


class InvalidFill(EdgeError):
    """A fill request that is not a list of media object keys."""

    code = "invalid_request"


STATUS: tuple[tuple[type[Exception], int], ...] = (
    (UnsafePath, 400),
    (AccessDenied, 403),
    (NoRenditionAllowed, 403),
    (ObjectMissing, 404),
    (NotHeld, 404),
    (InvalidFill, 422),
    (UpstreamUnavailable, 502),
)


def status_of(exc: Exception) -> int:
    """The HTTP status for ``exc`` (500 for anything unexpected)."""
    return next((status for kind, status in STATUS if isinstance(exc, kind)), 500)


def code_of(exc: Exception) -> str:
    """The JSON ``error`` code for ``exc``: its class's ``code``, else ``internal``."""
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) else "internal"
