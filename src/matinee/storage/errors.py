"""Errors of the object store.

StorageError
├── ObjectNotFound       the key does not exist
├── InvalidKey           the key is empty, absolute, or climbs out of the store (``..``)
└── StorageUnavailable   the backend could not be reached or refused the request
"""

from __future__ import annotations

from matinee.errors import MatineeError


class StorageError(MatineeError):
    """Base of object-store errors."""


class ObjectNotFound(StorageError):
    """No object at that key."""


class InvalidKey(StorageError):
    """The key is not a valid object key."""


class StorageUnavailable(StorageError):
    """The backend could not be reached, or it failed the request."""
