"""What the history store keeps: viewing events, the latest state of a title, pages of history.

A :class:`ViewingEvent` is one thing a player reported (a start, a heartbeat every few seconds,
a stop). Its identity is ``(profile_id, event_id)`` and its place in time is ``at``, the
device's timestamp: a retried batch repeats both verbatim, so it is stored once.

A :class:`TitleState` is what continue-watching and bookmarks need of a title: the latest
position a profile reached in it, and whether the profile finished it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EventKind = Literal["start", "heartbeat", "stop"]
EVENT_KINDS: tuple[EventKind, ...] = ("start", "heartbeat", "stop")

FINISHED_FRACTION = 0.95  # a title watched this far counts as finished

# Sort key of an event in a profile's history: newest first means descending by this key.
Key = tuple[float, str]


@dataclass(frozen=True, slots=True)
class ViewingEvent:
    """One report from a player. ``at`` is the device's timestamp (epoch seconds)."""

    profile_id: str
    event_id: str
    at: float
    title_id: str
    kind: EventKind = "heartbeat"
    position_s: float = 0.0
    duration_s: float = 0.0
    device: str = ""
    rendition: str = ""
    bitrate: int = 0
    buffer_s: float = 0.0
    rebuffers: int = 0
    finished: bool = False  # the player said so (credits reached, "mark as watched")
    # Where the member is (ISO alpha-2, from the signed identity): a ``start`` with a country
    # counts one play of the title there that day (:class:`PlayCount`). Not kept in the rows.
    country: str = ""

    @property
    def key(self) -> Key:
        return (self.at, self.event_id)

    @property
    def counts_a_play(self) -> bool:
        """A start whose country is known counts towards that country's popular titles."""
        return self.kind == "start" and bool(self.country)

    def state(self) -> TitleState:
        """The title's state as this event leaves it."""
        return TitleState(
            title_id=self.title_id,
            position_s=self.position_s,
            duration_s=self.duration_s,
            at=self.at,
            event_id=self.event_id,
            finished=is_finished(self.position_s, self.duration_s, explicit=self.finished),
        )


def is_finished(position_s: float, duration_s: float, *, explicit: bool = False) -> bool:
    """Finished: the player said so, or the position reached 95 % of the duration."""
    return explicit or (duration_s > 0 and position_s >= FINISHED_FRACTION * duration_s)


@dataclass(frozen=True, slots=True)
class TitleState:
    """The latest position a profile reached in a title (from its newest event)."""

    title_id: str
    position_s: float
    duration_s: float
    at: float
    event_id: str
    finished: bool

    @property
    def key(self) -> Key:
        return (self.at, self.event_id)

    def newer_than(self, other: TitleState | None) -> bool:
        return other is None or self.key > other.key


DAY_S = 86_400


def day_of(at: float) -> int:
    """The UTC day number (days since 1970-01-01) of an epoch time."""
    return int(at // DAY_S)


@dataclass(frozen=True, slots=True)
class PlayCount:
    """How many plays a title started in one country over some days (from ``start`` events)."""

    title_id: str
    plays: int


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """One page of a profile's history, newest first; ``next_cursor`` is None on the last."""

    items: list[ViewingEvent]
    next_cursor: str | None


@dataclass(slots=True)
class ReadStats:
    """What the store's reads touched, counted since it opened (for tests and metrics):
    live rows, compressed chunks, summary rows and per-title rows."""

    live_rows: int = 0
    chunks: int = 0
    summaries: int = 0
    title_rows: int = 0
    queries: int = 0

    def snapshot(self) -> ReadStats:
        return ReadStats(self.live_rows, self.chunks, self.summaries, self.title_rows, self.queries)

    def since(self, before: ReadStats) -> ReadStats:
        return ReadStats(
            self.live_rows - before.live_rows,
            self.chunks - before.chunks,
            self.summaries - before.summaries,
            self.title_rows - before.title_rows,
            self.queries - before.queries,
        )


@dataclass(frozen=True, slots=True)
class RollupReport:
    """What one roll-up did: profiles compacted, live rows moved into chunks, chunks written."""

    profiles: int = 0
    events: int = 0
    chunks_written: int = 0
    chunks_replaced: int = 0

    def __add__(self, other: RollupReport) -> RollupReport:
        return RollupReport(
            self.profiles + other.profiles,
            self.events + other.events,
            self.chunks_written + other.chunks_written,
            self.chunks_replaced + other.chunks_replaced,
        )
