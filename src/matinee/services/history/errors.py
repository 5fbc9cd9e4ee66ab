"""The viewing-history service's errors and how they become HTTP statuses.

The store's errors (``matinee.history.errors``) map here too: an unreachable backend is 503
(nothing was acknowledged, so the player retries), a bad cursor 400.
"""

from __future__ import annotations

from matinee.history.errors import (
    CorruptHistory,
    HistoryError,
    HistoryUnavailable,
    InvalidCursor,
    InvalidHistoryUrl,
)


class IngestOverloaded(HistoryError):
    """Too many events are queued for writing; the request is refused at once."""

    code = "history_overloaded"


class BookmarkNotFound(HistoryError):
    """The profile never watched this title."""

    code = "no_bookmark"


class EventOutOfRange(HistoryError):
    """An event's timestamp is too far in the future or the past to be recorded."""

    code = "invalid_request"


STATUS: tuple[tuple[type[Exception], int], ...] = (
    (BookmarkNotFound, 404),
    (InvalidCursor, 400),
    (EventOutOfRange, 422),
    (IngestOverloaded, 503),
    (HistoryUnavailable, 503),
    (InvalidHistoryUrl, 500),
    (CorruptHistory, 500),
)
