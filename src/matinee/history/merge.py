"""Reads merge the live rows with the compressed layer, the same way on every backend.

Live rows are recent (they wait for the roll-up); the compressed layer holds everything older,
as chunks of events and a summary of the latest state per title. A late event (a device that
was offline) may sit in a live row older than some chunk, and a roll-up that crashed halfway
may leave an event in both places: merging therefore sorts by key and keeps each event id once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from matinee.history.model import Key, TitleState, ViewingEvent


@dataclass(frozen=True, slots=True)
class StoredChunk:
    """A compressed chunk as stored: its key range (both ends included), size and blob.
    A profile's chunks never overlap, so ordering them by ``min_key`` orders their events."""

    min_key: Key
    max_key: Key
    count: int
    blob: bytes


def latest_states(summary: Iterable[TitleState], live: Iterable[ViewingEvent]) -> list[TitleState]:
    """The newest state of every title, newest first."""
    latest: dict[str, TitleState] = {}
    for state in summary:
        if state.newer_than(latest.get(state.title_id)):
            latest[state.title_id] = state
    for event in live:
        current = latest.get(event.title_id)
        if current is None or event.key > current.key:
            latest[event.title_id] = event.state()
    return sorted(latest.values(), key=lambda s: s.key, reverse=True)


def latest_state(
    stored: TitleState | None, live: Iterable[ViewingEvent], title_id: str
) -> TitleState | None:
    """The newest state of one title: its rolled-up row or a newer live event."""
    best = stored
    for event in live:
        if event.title_id == title_id and (best is None or event.key > best.key):
            best = event.state()
    return best


def newest_first(events: Iterable[ViewingEvent], before: Key | None = None) -> list[ViewingEvent]:
    """``events`` older than ``before`` (all when None), newest first, each event id once."""
    seen: set[str] = set()
    out: list[ViewingEvent] = []
    for event in sorted(events, key=lambda e: e.key, reverse=True):
        if (before is not None and event.key >= before) or event.event_id in seen:
            continue
        seen.add(event.event_id)
        out.append(event)
    return out


def page_is_complete(
    merged: Sequence[ViewingEvent], limit: int, oldest_chunk_min: Key | None
) -> bool:
    """Whether the first ``limit + 1`` merged events are final: every chunk not read yet holds
    only events older than ``oldest_chunk_min`` (the lowest key of the chunks read so far), so
    once that many events are at or above it, no unread chunk can change the page."""
    if oldest_chunk_min is None:
        return False
    above = 0
    for event in merged:
        if event.key < oldest_chunk_min:
            break
        above += 1
    return above > limit
