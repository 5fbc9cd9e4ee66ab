"""Errors of the delivery layer.

CdnError
├── CacheFull    an object cannot be admitted: pinned content leaves too little room
└── NotCached    the key is not held by the cache index
"""

from __future__ import annotations

from matinee.errors import MatineeError


class CdnError(MatineeError):
    """Base of delivery errors."""


class CacheFull(CdnError):
    """The object does not fit in the space that pinned content leaves free."""


class NotCached(CdnError):
    """The cache index does not hold that key."""
