"""Errors of the cache.

CacheError
├── InvalidCacheUrl     the cache URL (MATINEE_CACHE_URL) is not one matinee understands
├── InvalidCacheKey     a key is empty or holds spaces or control characters
├── ValueTooLarge       a value is larger than the cache accepts at all (max_value_bytes)
└── CacheUnavailable    no zone could answer (servers down, refused, or too slow)

A caller rarely needs to catch anything: a read raises CacheUnavailable only when every zone
failed, and ``get_or_load`` then falls back to the loader instead (counted).
"""

from __future__ import annotations

from matinee.errors import MatineeError


class CacheError(MatineeError):
    """Base of cache errors."""


class InvalidCacheUrl(CacheError):
    """The cache URL cannot be parsed; the message says which form is expected."""


class InvalidCacheKey(CacheError):
    """A key is empty or holds characters memcached does not allow (spaces, control codes)."""


class ValueTooLarge(CacheError):
    """A value is over the largest size the cache stores, even in chunks."""


class CacheUnavailable(CacheError):
    """A cache server (or every zone, when raised to a caller) did not answer."""
