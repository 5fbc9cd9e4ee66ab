"""Viewing history at Cassandra scale: the store (Netflix's LiveVH/CompressedVH model).

:func:`open_history_store` picks the backend from the URL (``settings.resolved_history_url``):
``sqlite:///path`` (embedded default) or ``cassandra://host:port/keyspace``. See ``base.py``
for the interface, ``options.py`` for the URL's options, ``schema_sql.py`` for the tables.
"""

from __future__ import annotations

from pathlib import Path

from matinee.history.base import HistoryStore
from matinee.history.errors import (
    CorruptHistory,
    HistoryError,
    HistoryUnavailable,
    InvalidCursor,
    InvalidHistoryUrl,
)
from matinee.history.model import (
    FINISHED_FRACTION,
    EventKind,
    HistoryPage,
    PlayCount,
    ReadStats,
    RollupReport,
    TitleState,
    ViewingEvent,
    day_of,
    is_finished,
)
from matinee.history.options import HistoryOptions, HistoryUrl, parse_history_url


def open_history_store(url: str) -> HistoryStore:
    """The store the URL names (not opened yet: ``await store.open()``)."""
    parsed = parse_history_url(url)
    if parsed.backend == "cassandra":
        from matinee.history.cassandra import CassandraHistoryStore  # noqa: PLC0415 - optional

        return CassandraHistoryStore(parsed.hosts, parsed.keyspace, parsed.options)
    from matinee.history.sqlite import SqliteHistoryStore  # noqa: PLC0415 - symmetric with above

    return SqliteHistoryStore(Path(parsed.path), parsed.options)


__all__ = [
    "FINISHED_FRACTION",
    "CorruptHistory",
    "EventKind",
    "HistoryError",
    "HistoryOptions",
    "HistoryPage",
    "HistoryStore",
    "HistoryUnavailable",
    "HistoryUrl",
    "InvalidCursor",
    "InvalidHistoryUrl",
    "PlayCount",
    "ReadStats",
    "RollupReport",
    "TitleState",
    "ViewingEvent",
    "day_of",
    "is_finished",
    "open_history_store",
    "parse_history_url",
]
