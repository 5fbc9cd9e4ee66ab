"""The Cassandra store's prepared statements, and the conversion of the driver's errors.

Every statement is prepared once per session (the driver then routes each to a replica of its
partition: token-aware). Live-row slices come in a few shapes (with or without a lower time
bound, a cursor, a title filter, a limit); each shape is prepared on first use.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from cassandra.cluster import Session  # type: ignore[import-untyped]
from cassandra.query import PreparedStatement  # type: ignore[import-untyped]

from matinee.history import schema_sql
from matinee.history.errors import HistoryUnavailable
from matinee.history.model import Key, ViewingEvent

_LIVE_SELECT = (
    "SELECT at, event_id, title_id, kind, position_s, duration_s, device, rendition, bitrate, "
    "buffer_s, rebuffers, finished FROM {ks}.live_events WHERE profile_id = ?"
)
_CHUNK_SELECT = "SELECT min_at, min_id, max_at, max_id, events, data FROM {ks}.compressed"


# The bound values of an event's live row, as one C-level call.
event_params: Callable[[ViewingEvent], tuple[Any, ...]] = operator.attrgetter(
    "profile_id",
    "at",
    "event_id",
    "title_id",
    "kind",
    "position_s",
    "duration_s",
    "device",
    "rendition",
    "bitrate",
    "buffer_s",
    "rebuffers",
    "finished",
)


def as_unavailable(exc: BaseException, doing: str) -> HistoryUnavailable:
    """A driver error (no host, timeout, unavailable replicas, ...) in plain words."""
    if isinstance(exc, HistoryUnavailable):
        return exc
    detail = str(exc) or type(exc).__name__
    return HistoryUnavailable(f"could not {doing}: {detail}")


class Statements:
    """The prepared statements of one session."""

    def __init__(self, session: Session, keyspace: str) -> None:
        self.session = session
        self.keyspace = keyspace

        def p(cql: str) -> PreparedStatement:
            return session.prepare(cql.format(ks=keyspace))

        self.insert: PreparedStatement = p(schema_sql.CQL_INSERT)
        self.summary = p(
            "SELECT summary, rolled_through FROM {ks}.compressed WHERE profile_id = ? LIMIT 1"
        )
        self.rolled_through = p(
            "SELECT rolled_through FROM {ks}.compressed WHERE profile_id = ? LIMIT 1"
        )
        self.title_state = p(
            "SELECT position_s, duration_s, at, event_id, finished FROM {ks}.title_states"
            " WHERE profile_id = ? AND title_id = ?"
        )
        self.chunks_newest = p(f"{_CHUNK_SELECT} WHERE profile_id = ? LIMIT ?")
        self.chunks_below = p(
            f"{_CHUNK_SELECT} WHERE profile_id = ? AND (min_at, min_id) < (?, ?) LIMIT ?"
        )
        self.chunks_from = p(f"{_CHUNK_SELECT} WHERE profile_id = ? AND (min_at, min_id) >= (?, ?)")
        self.profiles = p("SELECT DISTINCT profile_id FROM {ks}.live_events")
        self.take_lease = p(
            "INSERT INTO {ks}.rollup_leases (profile_id, owner) VALUES (?, ?) IF NOT EXISTS"
            " USING TTL {ttl}".replace("{ttl}", str(schema_sql.LEASE_TTL_S))
        )
        self.drop_lease = p("DELETE FROM {ks}.rollup_leases WHERE profile_id = ? IF owner = ?")
        self.delete_chunk = p(
            "DELETE FROM {ks}.compressed WHERE profile_id = ? AND min_at = ? AND min_id = ?"
        )
        self.insert_chunk = p(
            "INSERT INTO {ks}.compressed (profile_id, min_at, min_id, max_at, max_id, events, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        self.set_summary = p(
            "UPDATE {ks}.compressed SET summary = ?, summary_titles = ?, rolled_through = ?"
            " WHERE profile_id = ?"
        )
        self.upsert_title = p(
            "INSERT INTO {ks}.title_states"
            " (profile_id, title_id, at, event_id, position_s, duration_s, finished)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?"
        )
        self.delete_live_below = p(
            "DELETE FROM {ks}.live_events USING TIMESTAMP ? WHERE profile_id = ? AND at < ?"
        )
        self.delete_live_between = p(
            "DELETE FROM {ks}.live_events USING TIMESTAMP ?"
            " WHERE profile_id = ? AND at >= ? AND at < ?"
        )
        self.count_plays = p(
            "UPDATE {ks}.play_counts SET plays = plays + ?"
            " WHERE country = ? AND day = ? AND title_id = ?"
        )
        self.plays_on = p(
            "SELECT title_id, plays FROM {ks}.play_counts WHERE country = ? AND day = ?"
        )
        self._live: dict[tuple[bool, bool, bool, bool], PreparedStatement] = {}

    def live(
        self,
        profile_id: str,
        since: float | None,
        before: Key | None,
        limit: int | None,
        title_id: str | None,
    ) -> tuple[PreparedStatement, tuple[Any, ...]]:
        """The statement and parameters of one live-row slice, newest first."""
        shape = (since is not None, before is not None, title_id is not None, limit is not None)
        statement = self._live.get(shape)
        if statement is None:
            cql = _LIVE_SELECT
            # Cassandra takes no mix of single- and multi-column relations on clustering
            # columns, so the lower bound is written as a one-column tuple.
            if since is not None:
                cql += " AND (at) >= (?)"
            if before is not None:
                cql += " AND (at, event_id) < (?, ?)"
            if title_id is not None:
                cql += " AND title_id = ?"
            if limit is not None:
                cql += " LIMIT ?"
            if title_id is not None:  # filtered inside one partition's slice, not a scan
                cql += " ALLOW FILTERING"
            statement = self.session.prepare(cql.format(ks=self.keyspace))
            self._live[shape] = statement
        params: list[Any] = [profile_id]
        if since is not None:
            params.append(since)
        if before is not None:
            params += [before[0], before[1]]
        if title_id is not None:
            params.append(title_id)
        if limit is not None:
            params.append(limit)
        return statement, tuple(params)
