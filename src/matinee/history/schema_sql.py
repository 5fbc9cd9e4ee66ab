"""The history store's tables, as SQLite DDL and as CQL (one place, so both stay alike).

Cassandra tables and why:

* ``live_events`` - LiveVH, write-optimized: partition per profile, clustered by
  ``(at, event_id)`` descending, so a page of recent history is one contiguous slice. A retried
  event is an upsert of the same cells (idempotent). No TTL: the roll-up deletes these rows
  once they are compressed, and a TTL would silently drop acknowledged history whenever the
  roll-up stalled for longer than it; the oldest live row's age is watched instead.
* ``compressed`` - CompressedVH: the profile's chunks (zlib'd JSON, ``chunk_events`` each,
  clustered by their first key, never overlapping) and, in static columns of the same
  partition, the summary (latest state of the most recently watched titles) and
  ``rolled_through`` (the last roll-up's cutoff). One partition means a roll-up replaces chunks
  and summary in one single-partition batch: atomic and isolated.
* ``title_states`` - one row per (profile, title), written by the roll-up with
  ``USING TIMESTAMP`` = the event's time in microseconds: the newest event wins whatever
  order roll-ups write in. Bookmarks read one row here.
* ``rollup_leases`` - one row per profile being rolled up, taken with a lightweight
  transaction and a TTL (a crashed roll-up frees the profile after ``LEASE_TTL_S``).
* ``play_counts`` - plays started per (country, UTC day, title): a counter table, partition
  per (country, day), so "the most played titles in a country over the last N days" reads N
  partitions. The CDN's fill controller asks for it (``/internal/history/popular``).
"""

from __future__ import annotations

LEASE_TTL_S = 120

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS live_events (
    profile_id TEXT NOT NULL,
    at REAL NOT NULL,
    event_id TEXT NOT NULL,
    title_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    position_s REAL NOT NULL,
    duration_s REAL NOT NULL,
    device TEXT NOT NULL,
    rendition TEXT NOT NULL,
    bitrate INTEGER NOT NULL,
    buffer_s REAL NOT NULL,
    rebuffers INTEGER NOT NULL,
    finished INTEGER NOT NULL,
    PRIMARY KEY (profile_id, at, event_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chunks (
    profile_id TEXT NOT NULL,
    min_at REAL NOT NULL,
    min_id TEXT NOT NULL,
    max_at REAL NOT NULL,
    max_id TEXT NOT NULL,
    events INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (profile_id, min_at, min_id)
);
CREATE TABLE IF NOT EXISTS summaries (
    profile_id TEXT PRIMARY KEY,
    data BLOB NOT NULL,
    titles INTEGER NOT NULL,
    rolled_through REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS title_states (
    profile_id TEXT NOT NULL,
    title_id TEXT NOT NULL,
    at REAL NOT NULL,
    event_id TEXT NOT NULL,
    position_s REAL NOT NULL,
    duration_s REAL NOT NULL,
    finished INTEGER NOT NULL,
    PRIMARY KEY (profile_id, title_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS play_counts (
    country TEXT NOT NULL,
    day INTEGER NOT NULL,
    title_id TEXT NOT NULL,
    plays INTEGER NOT NULL,
    PRIMARY KEY (country, day, title_id)
) WITHOUT ROWID;
"""

LIVE_COLUMNS = (
    "profile_id, at, event_id, title_id, kind, position_s, duration_s, device, rendition, "
    "bitrate, buffer_s, rebuffers, finished"
)

LIVE_FIELDS = 13


def sqlite_insert(rows: int = 1) -> str:
    """``INSERT OR IGNORE`` of ``rows`` live rows in one statement (13 bound values each)."""
    row = "(" + ",".join("?" * LIVE_FIELDS) + ")"
    return (
        "INSERT OR IGNORE INTO live_events"  # noqa: S608 - constant columns; values are bound
        f" ({LIVE_COLUMNS}) VALUES " + ",".join([row] * rows)
    )


SQLITE_INSERT = sqlite_insert()

SQLITE_UPSERT_TITLE = """
INSERT INTO title_states (profile_id, title_id, at, event_id, position_s, duration_s, finished)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (profile_id, title_id) DO UPDATE SET
    at = excluded.at, event_id = excluded.event_id, position_s = excluded.position_s,
    duration_s = excluded.duration_s, finished = excluded.finished
WHERE (excluded.at, excluded.event_id) > (title_states.at, title_states.event_id)
"""

SQLITE_COUNT_PLAYS = """
INSERT INTO play_counts (country, day, title_id, plays) VALUES (?, ?, ?, ?)
ON CONFLICT (country, day, title_id) DO UPDATE SET plays = plays + excluded.plays
"""

SQLITE_POPULAR = """
SELECT title_id, SUM(plays) AS total FROM play_counts
WHERE country = ? AND day >= ? AND day <= ?
GROUP BY title_id ORDER BY total DESC, title_id LIMIT ?
"""

# CQL names every table with its keyspace (``{ks}``, filled in by the store): Cassandra 5 warns
# against prepared statements that lean on ``USE keyspace``.
CQL_TABLES = (
    """
    CREATE TABLE IF NOT EXISTS {ks}.live_events (
        profile_id text,
        at double,
        event_id text,
        title_id text,
        kind text,
        position_s double,
        duration_s double,
        device text,
        rendition text,
        bitrate int,
        buffer_s double,
        rebuffers int,
        finished boolean,
        PRIMARY KEY ((profile_id), at, event_id)
    ) WITH CLUSTERING ORDER BY (at DESC, event_id DESC)
    """,
    """
    CREATE TABLE IF NOT EXISTS {ks}.compressed (
        profile_id text,
        min_at double,
        min_id text,
        max_at double,
        max_id text,
        events int,
        data blob,
        summary blob STATIC,
        summary_titles int STATIC,
        rolled_through double STATIC,
        PRIMARY KEY ((profile_id), min_at, min_id)
    ) WITH CLUSTERING ORDER BY (min_at DESC, min_id DESC)
    """,
    """
    CREATE TABLE IF NOT EXISTS {ks}.title_states (
        profile_id text,
        title_id text,
        at double,
        event_id text,
        position_s double,
        duration_s double,
        finished boolean,
        PRIMARY KEY ((profile_id), title_id)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS {ks}.rollup_leases (
        profile_id text PRIMARY KEY,
        owner text
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS {ks}.play_counts (
        country text,
        day int,
        title_id text,
        plays counter,
        PRIMARY KEY ((country, day), title_id)
    )
    """,
)

CQL_INSERT = (
    "INSERT INTO {ks}.live_events"  # noqa: S608 - a constant column list; values are bound
    f" ({LIVE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
