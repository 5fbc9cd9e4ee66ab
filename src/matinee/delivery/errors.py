"""Errors of signed delivery URLs and manifest filtering.

DeliveryError
├── UnsafePath            the path is not a plain relative path (``..``, ``%2e``, ``\\``): 400
├── AccessDenied          the request may not have this object: 403
│   ├── TokenInvalid        the token is malformed or its signature does not match
│   ├── TokenExpired        the token's expiry has passed
│   ├── TokenWrongPath      the path is outside the prefix the token is bound to
│   ├── TokenWrongClient    the token is bound to another client address
│   └── RenditionNotAllowed the path is a rendition above the token's maximum height
└── NoRenditionAllowed    no video rendition of a manifest fits under the maximum height: 403
"""

from __future__ import annotations

from matinee.errors import MatineeError


class DeliveryError(MatineeError):
    """Base of delivery errors."""


class UnsafePath(DeliveryError):
    """The path is empty, absolute, climbs (``..``), or carries encoded or odd characters."""

    code = "unsafe_path"


class AccessDenied(DeliveryError):
    """The request may not have this object."""


class TokenInvalid(AccessDenied):
    """The token is malformed, or it was not signed with our key (tampered)."""

    code = "token_invalid"


class TokenExpired(AccessDenied):
    """The token was valid, but its expiry has passed."""

    code = "token_expired"


class TokenWrongPath(AccessDenied):
    """The path is not under the prefix the token is bound to."""

    code = "token_wrong_path"


class TokenWrongClient(AccessDenied):
    """The token is bound to another client address."""

    code = "token_wrong_client"


class RenditionNotAllowed(AccessDenied):
    """The path belongs to a rendition taller than the token allows."""

    code = "rendition_not_allowed"


class NoRenditionAllowed(DeliveryError):
    """Every video rendition of the manifest is taller than the token allows."""

    code = "no_rendition_allowed"
