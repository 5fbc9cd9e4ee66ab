"""The viewing-history service's request and response bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

MAX_EVENTS = 500
ID_PATTERN = r"^[A-Za-z0-9._:-]+$"

_EVENT_EXAMPLE: dict[str, JsonValue] = {
    "event_id": "6f1c2a9e-hb-0042",
    "kind": "heartbeat",
    "title_id": "tt-blue-planet-s01e02",
    "position_s": 812.4,
    "duration_s": 3000.0,
    "rendition": "1080p",
    "bitrate": 5_800_000,
    "buffer_s": 24.0,
    "rebuffers": 0,
    "device": "living-room-tv",
    "client_ts": 1_767_225_600.0,
}


class ViewingEventIn(BaseModel):
    """One report from a player: a start, a heartbeat (every few seconds) or a stop."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EVENT_EXAMPLE]})

    event_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="Unique per profile; a retried event carries the same id and time",
    )
    kind: Literal["start", "heartbeat", "stop"] = "heartbeat"
    title_id: str = Field(min_length=1, max_length=64, pattern=ID_PATTERN)
    position_s: float = Field(ge=0, le=172_800, description="Playhead position, seconds")
    duration_s: float = Field(ge=0, le=172_800, description="Length of the title, seconds")
    rendition: str = Field(default="", max_length=32, description="e.g. 1080p")
    bitrate: int = Field(default=0, ge=0, le=1_000_000_000, description="bits per second")
    buffer_s: float = Field(default=0.0, ge=0, le=3600, description="Seconds of media buffered")
    rebuffers: int = Field(default=0, ge=0, le=10_000, description="Stalls since the last event")
    device: str = Field(default="", max_length=64)
    client_ts: float = Field(gt=0, description="When it happened, by the device's clock (epoch s)")
    finished: bool = Field(default=False, description="The viewer finished the title")


class EventBatchIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"events": [_EVENT_EXAMPLE]}]}
    )

    events: list[ViewingEventIn] = Field(min_length=1, max_length=MAX_EVENTS)


class AcceptedOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"accepted": 3}]})

    accepted: int = Field(description="Events now durably recorded (retried ones included)")


class ContinueWatchingItem(BaseModel):
    """A title to resume, or the next episode of a series whose episode the viewer finished."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title_id": "tt-blue-planet-s01e03",
                    "kind": "next_episode",
                    "position_s": 0.0,
                    "duration_s": None,
                    "progress": 0.0,
                    "watched_at": 1_767_225_600.0,
                    "after_title_id": "tt-blue-planet-s01e02",
                }
            ]
        }
    )

    title_id: str
    kind: Literal["resume", "next_episode"]
    position_s: float
    duration_s: float | None
    progress: float = Field(ge=0, le=1, description="position / duration")
    watched_at: float = Field(description="When the viewer last watched (epoch s)")
    after_title_id: str | None = Field(
        default=None, description="For a next episode: the finished episode it follows"
    )


class ContinueWatchingPage(BaseModel):
    items: list[ContinueWatchingItem]
    next_cursor: str | None


class HistoryItem(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_EVENT_EXAMPLE]})

    event_id: str
    kind: Literal["start", "heartbeat", "stop"]
    title_id: str
    position_s: float
    duration_s: float
    rendition: str
    bitrate: int
    buffer_s: float
    rebuffers: int
    device: str
    client_ts: float
    finished: bool


class HistoryPageOut(BaseModel):
    items: list[HistoryItem]
    next_cursor: str | None


class BookmarkOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title_id": "tt-blue-planet-s01e02",
                    "position_s": 812.4,
                    "duration_s": 3000.0,
                    "finished": False,
                    "watched_at": 1_767_225_600.0,
                }
            ]
        }
    )

    title_id: str
    position_s: float = Field(description="Resume from here (seconds)")
    duration_s: float
    finished: bool
    watched_at: float


class PopularTitle(BaseModel):
    title_id: str
    plays: int = Field(description="Plays started in the country over the days asked for")


class PopularOut(BaseModel):
    """The most played titles of one country, most played first (for the CDN's fill)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "country": "US",
                    "days": 7,
                    "titles": [{"title_id": "tt-blue-planet-s01e02", "plays": 1830}],
                }
            ]
        }
    )

    country: str
    days: int
    titles: list[PopularTitle]
