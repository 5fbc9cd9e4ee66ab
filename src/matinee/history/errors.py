"""The history store's errors (its subtree of :class:`~matinee.errors.MatineeError`).

* :class:`HistoryError` - the root;
* :class:`HistoryUnavailable` - the backend (SQLite file, Cassandra cluster) cannot be reached or
  did not answer; nothing was acknowledged, so the caller may retry;
* :class:`InvalidCursor` - a page cursor that no page returned;
* :class:`InvalidHistoryUrl` - ``MATINEE_HISTORY_URL`` names no backend we know, or bad options;
* :class:`CorruptHistory` - stored bytes that cannot be decoded.
"""

from __future__ import annotations

from matinee.errors import MatineeError


class HistoryError(MatineeError):
    """Something went wrong in the viewing-history store."""


class HistoryUnavailable(HistoryError):
    """The history backend cannot be reached or did not answer in time."""


class InvalidCursor(HistoryError):
    """A page cursor that no page of this history returned."""


class InvalidHistoryUrl(HistoryError):
    """The history URL names no known backend, or carries an option that is not valid."""


class CorruptHistory(HistoryError):
    """Stored history bytes that cannot be decoded."""
