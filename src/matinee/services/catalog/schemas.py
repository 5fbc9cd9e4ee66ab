"""The catalog's request and response bodies (pydantic), with the examples OpenAPI shows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

Maturity = Literal[0, 7, 13, 16, 18]
Role = Literal["actor", "voice", "director", "creator", "writer"]
COUNTRY_PATTERN = r"^[A-Z]{2}$"
ID_PATTERN = r"^[A-Za-z0-9-]{1,36}$"
TEXT = r"^[^\x00]*$"  # no NUL: PostgreSQL cannot store one in text
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)

_STRICT = ConfigDict(extra="forbid")


class CreditIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "Millie Bobby Brown", "role": "actor", "character": "Eleven"}]
        },
    )

    name: str = Field(min_length=1, max_length=200, pattern=TEXT)
    role: Role = "actor"
    character: str | None = Field(default=None, min_length=1, max_length=200, pattern=TEXT)


_TITLE_EXAMPLE: dict[str, Any] = {
    "kind": "series",
    "name": "Stranger Things",
    "synopsis": "When a young boy vanishes, a small town uncovers a mystery.",
    "genres": ["Sci-Fi", "Horror"],
    "cast": [{"name": "Millie Bobby Brown", "role": "actor", "character": "Eleven"}],
    "maturity": 16,
    "release_year": 2016,
}


class TitleCreate(BaseModel):
    """A new movie or series (episodes are added to a series)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_TITLE_EXAMPLE]})

    kind: Literal["movie", "series"]
    name: str = Field(min_length=1, max_length=300, pattern=TEXT)
    synopsis: str = Field(default="", max_length=5000, pattern=TEXT)
    genres: list[str] = Field(default_factory=list, max_length=20)
    cast: list[CreditIn] = Field(default_factory=list, max_length=200)
    maturity: Maturity
    release_year: int = Field(ge=1870, le=2100)
    runtime_s: int | None = Field(default=None, gt=0, le=1_000_000)

    @model_validator(mode="after")
    def _genre_names(self) -> TitleCreate:
        _check_genres(self.genres)
        return self


class EpisodeCreate(BaseModel):
    """A new episode of a series. Maturity and release year default to the series'. An
    episode is published on creation: it shows once its series is published."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "season": 1,
                    "episode": 1,
                    "name": "The Vanishing of Will Byers",
                    "synopsis": "On his way home, a boy disappears.",
                    "runtime_s": 2940,
                }
            ]
        },
    )

    season: int = Field(ge=0, le=1000)
    episode: int = Field(ge=0, le=10_000)
    name: str = Field(min_length=1, max_length=300, pattern=TEXT)
    synopsis: str = Field(default="", max_length=5000, pattern=TEXT)
    cast: list[CreditIn] = Field(default_factory=list, max_length=200)
    maturity: Maturity | None = None
    release_year: int | None = Field(default=None, ge=1870, le=2100)
    runtime_s: int | None = Field(default=None, gt=0, le=1_000_000)
    published: bool = True


class TitleUpdate(BaseModel):
    """Fields to change; those left out keep their value. ``genres`` and ``cast`` replace
    the whole list."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"synopsis": "A new synopsis.", "maturity": 13}]},
    )

    name: str | None = Field(default=None, min_length=1, max_length=300, pattern=TEXT)
    synopsis: str | None = Field(default=None, max_length=5000, pattern=TEXT)
    genres: list[str] | None = Field(default=None, max_length=20)
    cast: list[CreditIn] | None = Field(default=None, max_length=200)
    maturity: Maturity | None = None
    release_year: int | None = Field(default=None, ge=1870, le=2100)
    runtime_s: int | None = Field(default=None, gt=0, le=1_000_000)
    season: int | None = Field(default=None, ge=0, le=1000)
    episode: int | None = Field(default=None, ge=0, le=10_000)

    @model_validator(mode="after")
    def _genre_names(self) -> TitleUpdate:
        _check_genres(self.genres or [])
        return self


def _check_genres(genres: list[str]) -> None:
    for name in genres:
        if not 1 <= len(name.strip()) <= 100 or "\x00" in name:
            raise ValueError("genres: every genre needs a name of 1 to 100 characters")


class WindowIn(BaseModel):
    model_config = _STRICT

    country: str = Field(pattern=COUNTRY_PATTERN, examples=["US"])
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _order(self) -> WindowIn:
        for name, value in (("starts_at", self.starts_at), ("ends_at", self.ends_at)):
            if value is not None and not EARLIEST <= value < LATEST:
                raise ValueError(f"{name}: must be between the years 1900 and 9999")
        if self.ends_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at: a window must end after it starts")
        return self


class AvailabilityIn(BaseModel):
    """Every availability window of a title; the set replaces the old one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "windows": [
                        {"country": "US", "starts_at": "2026-01-01T00:00:00Z", "ends_at": None},
                        {
                            "country": "GB",
                            "starts_at": "2026-01-01T00:00:00Z",
                            "ends_at": "2027-01-01T00:00:00Z",
                        },
                    ]
                }
            ]
        },
    )

    windows: list[WindowIn] = Field(max_length=500)


class LinkAsset(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"asset_id": "6f1c2d4e-8a7b-4c3d-9e0f-123456789abc"}]},
    )

    asset_id: str = Field(pattern=ID_PATTERN)


# --- responses -----------------------------------------------------------------------------


class GenreOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"slug": "sci-fi", "name": "Sci-Fi"}]}
    )

    slug: str
    name: str


class CreditOut(BaseModel):
    name: str
    role: str
    character: str | None


class Artwork(BaseModel):
    """URLs the media service serves the title's pictures at (None until an asset is linked)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "poster": "/media/assets/6f1c/poster.jpg",
                    "trickplay": "/media/assets/6f1c/trickplay/thumbs.vtt",
                }
            ]
        }
    )

    poster: str | None
    trickplay: str | None


_SUMMARY_EXAMPLE: dict[str, Any] = {
    "id": "3b0e7a52-4c61-4f7a-a0a4-51a3c1d2e9f0",
    "kind": "movie",
    "name": "Big Buck Bunny",
    "synopsis": "A giant rabbit takes revenge on three bullies.",
    "maturity": 0,
    "release_year": 2008,
    "runtime_s": 596,
    "genres": [{"slug": "animation", "name": "Animation"}],
    "artwork": {"poster": "/media/assets/6f1c/poster.jpg", "trickplay": None},
    "playable": True,
}


class TitleSummary(BaseModel):
    """A title as lists show it."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SUMMARY_EXAMPLE]})

    id: str
    kind: Literal["movie", "series", "episode"]
    name: str
    synopsis: str
    maturity: int
    release_year: int
    runtime_s: int | None
    genres: list[GenreOut]
    artwork: Artwork
    playable: bool = Field(description="a packaged media asset is linked")


class EpisodeOut(BaseModel):
    id: str
    season: int
    episode: int
    name: str
    synopsis: str
    maturity: int
    runtime_s: int | None
    artwork: Artwork
    playable: bool


class SeasonOut(BaseModel):
    season: int
    episodes: list[EpisodeOut]


class TitleDetail(TitleSummary):
    """A title's page: a series lists its seasons and the episodes the caller may watch."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**_SUMMARY_EXAMPLE, "cast": [], "max_height": 1080, "seasons": None}]
        }
    )

    cast: list[CreditOut]
    max_height: int | None = Field(description="tallest rendition of the linked asset")
    series_id: str | None = None
    season: int | None = None
    episode: int | None = None
    seasons: list[SeasonOut] | None = None


class WindowOut(BaseModel):
    country: str
    starts_at: datetime
    ends_at: datetime | None


class AdminTitle(TitleDetail):
    """Everything about a title, published or not (the admin's view)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_SUMMARY_EXAMPLE,
                    "cast": [{"name": "Bunny", "role": "voice", "character": None}],
                    "max_height": 1080,
                    "seasons": None,
                    "published": True,
                    "asset_id": "6f1c2d4e-8a7b-4c3d-9e0f-123456789abc",
                    "availability": [
                        {"country": "US", "starts_at": "2026-01-01T00:00:00Z", "ends_at": None}
                    ],
                    "created_at": "2026-01-01T00:00:00Z",
                    "updated_at": "2026-01-02T00:00:00Z",
                }
            ]
        }
    )

    published: bool
    asset_id: str | None
    availability: list[WindowOut]
    created_at: datetime
    updated_at: datetime


class TitlePage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_SUMMARY_EXAMPLE], "next_cursor": None}]}
    )

    items: list[TitleSummary]
    next_cursor: str | None


class AdminTitlePage(BaseModel):
    items: list[AdminTitle]
    next_cursor: str | None


class GenrePage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [{"slug": "sci-fi", "name": "Sci-Fi"}], "next_cursor": None}]
        }
    )

    items: list[GenreOut]
    next_cursor: str | None


class SearchPage(BaseModel):
    """Ranked results: titles whose name holds every term first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [_SUMMARY_EXAMPLE], "next_cursor": None, "matched": [["bunny"]]}]
        }
    )

    items: list[TitleSummary]
    next_cursor: str | None
    matched: list[list[str]] = Field(
        description="for every query term, the prefixes it was matched as (typos corrected)"
    )


# --- internal contract (other services) -----------------------------------------------------


class InternalTitle(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "9d6f...",
                    "kind": "episode",
                    "name": "Chapter One",
                    "published": True,
                    "maturity": 16,
                    "runtime_s": 2940,
                    "asset_id": "6f1c...",
                    "series_id": "3b0e...",
                    "season": 1,
                    "episode": 1,
                    "next_episode_id": "a1b2...",
                    "availability": [
                        {"country": "US", "starts_at": "2026-01-01T00:00:00Z", "ends_at": None}
                    ],
                }
            ]
        }
    )

    id: str
    kind: Literal["movie", "series", "episode"]
    name: str
    published: bool
    maturity: int
    runtime_s: int | None
    asset_id: str | None
    series_id: str | None
    season: int | None
    episode: int | None
    next_episode_id: str | None
    availability: list[WindowOut]


class Availability(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"available": False, "reason": "region"}]}
    )

    available: bool
    reason: Literal["unpublished", "region", "window"] | None
