"""The roll-up's plan, the same on every backend: which chunks to write and which to drop.

For one profile the roll-up takes the live rows older than its cutoff and folds them into the
compressed layer (Netflix's LiveVH into CompressedVH):

1. the chunks it touches are read: usually only the newest one, if it is not full yet; a late
   event older than the newest chunk also brings in every chunk from the one it falls into on,
   so chunks never overlap;
2. touched chunks and live rows are merged (each event id once), sorted, and cut again into
   chunks of ``chunk_events`` from the oldest on - so older full chunks keep their keys and
   are simply rewritten with the same bytes;
3. the summary (latest state of the ``summary_titles`` most recently watched titles) is merged
   with the live rows' newest state per title; titles that fall out of it keep their per-title
   row, which bookmarks read.

The backend then writes chunks, summary and per-title rows, and only then deletes the live rows
it read: a crash in between leaves events in both layers, which reads merge and the next
roll-up folds in again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from matinee.history.codec import decode_chunk, encode_chunk, encode_summary
from matinee.history.merge import StoredChunk, latest_states, newest_first
from matinee.history.model import Key, TitleState, ViewingEvent

DEFAULT_CHUNK_EVENTS = 1000
DEFAULT_SUMMARY_TITLES = 200


@dataclass(frozen=True, slots=True)
class RollupPlan:
    """What to write for one profile. ``replaced`` are the min keys of touched chunks that no
    new chunk overwrites (to delete); ``states`` the newest state per title of the live rows."""

    chunks: list[StoredChunk]
    replaced: list[Key]
    summary: bytes
    summary_titles: int
    states: list[TitleState]
    events: int


def plan_rollup(
    profile_id: str,
    live: Sequence[ViewingEvent],
    touched: Sequence[StoredChunk],
    summary: Sequence[TitleState],
    *,
    chunk_events: int = DEFAULT_CHUNK_EVENTS,
    summary_titles: int = DEFAULT_SUMMARY_TITLES,
) -> RollupPlan:
    """The plan for folding ``live`` (the rows being rolled up) into ``touched`` chunks and the
    profile's ``summary``."""
    old: list[ViewingEvent] = []
    for chunk in touched:
        old.extend(decode_chunk(profile_id, chunk.blob))
    live_states = latest_states((), live)
    states = latest_states(summary, live)[:summary_titles]
    stored = {e.event_id for e in old}
    if all(e.event_id in stored for e in live):
        # Every live row is in the chunks already (a roll-up left them behind): nothing to cut.
        return RollupPlan([], [], encode_summary(states), len(states), live_states, len(live))
    merged = newest_first([*live, *old])
    merged.reverse()  # oldest first: cut full chunks from the old end
    chunks: list[StoredChunk] = []
    for start in range(0, len(merged), chunk_events):
        piece = merged[start : start + chunk_events]
        piece.reverse()  # each chunk is stored newest first, as pages read it
        chunks.append(StoredChunk(piece[-1].key, piece[0].key, len(piece), encode_chunk(piece)))
    kept = {c.min_key for c in chunks}
    replaced = [c.min_key for c in touched if c.min_key not in kept]
    return RollupPlan(
        chunks=chunks,
        replaced=replaced,
        summary=encode_summary(states),
        summary_titles=len(states),
        states=live_states,
        events=len(live),
    )


def touched_chunks(
    oldest_live: Key,
    chunks_from: Sequence[StoredChunk],
    below: StoredChunk | None,
    newest: StoredChunk | None,
    *,
    chunk_events: int = DEFAULT_CHUNK_EVENTS,
) -> list[StoredChunk]:
    """The chunks a roll-up must rewrite, from what the backend read: every chunk whose min key
    is at or above the oldest live row's key (``chunks_from``), the nearest chunk below it
    (``below``) when its range reaches over that key, and the profile's ``newest`` chunk when
    it is not full (it is refilled rather than followed by a small one)."""
    out = {c.min_key: c for c in chunks_from}
    if below is not None and below.max_key >= oldest_live:
        out[below.min_key] = below
    if newest is not None and newest.count < chunk_events:
        out[newest.min_key] = newest
    return sorted(out.values(), key=lambda c: c.min_key)
