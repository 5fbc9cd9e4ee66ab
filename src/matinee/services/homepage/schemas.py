"""The homepage's response body, and the per-country rows it keeps precomputed in the cache."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RowKind = Literal["continue_watching", "because_you_watched", "new", "popular", "genre"]
Source = Literal["catalog", "history", "identity", "popularity"]


class Artwork(BaseModel):
    """Picture URLs (served by the media service); None until the title has an asset."""

    poster: str | None = None
    trickplay: str | None = None


class Genre(BaseModel):
    slug: str
    name: str


_CARD_EXAMPLE: dict[str, Any] = {
    "id": "3b0e7a52-4c61-4f7a-a0a4-51a3c1d2e9f0",
    "kind": "movie",
    "name": "Big Buck Bunny",
    "maturity": 0,
    "artwork": {"poster": "/media/assets/6f1c/poster.jpg", "trickplay": None},
    "genres": [{"slug": "animation", "name": "Animation"}],
}


class Card(BaseModel):
    """A title on a row. Continue-watching cards also say where the viewer is, and an
    episode names its series."""

    model_config = ConfigDict(json_schema_extra={"examples": [_CARD_EXAMPLE]})

    id: str
    kind: Literal["movie", "series", "episode"]
    name: str
    maturity: int
    artwork: Artwork = Field(default_factory=Artwork)
    genres: list[Genre] = Field(default_factory=list)
    progress: float | None = Field(default=None, description="continue watching: 0..1")
    position_s: float | None = Field(default=None, description="continue watching: resume at")
    series_id: str | None = None
    series_name: str | None = None
    season: int | None = None
    episode: int | None = None


class Row(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id": "new", "kind": "new", "title": "New on matinee", "items": [_CARD_EXAMPLE]}
            ]
        }
    )

    id: str = Field(description="stable per row: new, popular, genre:<slug>, because:<title>")
    kind: RowKind
    title: str
    items: list[Card]


class HomePage(BaseModel):
    """The rows one profile sees, in order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "profile_id": "5d3c...",
                    "country": "US",
                    "maturity_level": 13,
                    "generated_at": 1_767_225_600.0,
                    "degraded": [],
                    "rows": [
                        {
                            "id": "new",
                            "kind": "new",
                            "title": "New on matinee",
                            "items": [_CARD_EXAMPLE],
                        }
                    ],
                }
            ]
        }
    )

    profile_id: str
    country: str
    maturity_level: int
    generated_at: float = Field(description="when the page was built (epoch s)")
    degraded: list[Source] = Field(
        description="sources that could not answer; their rows are missing or older"
    )
    rows: list[Row]


class GenreIds(BaseModel):
    slug: str
    name: str
    ids: list[str]


class Snapshot(BaseModel):
    """One country's precomputed rows, for every maturity (filtered per request).

    Kept in the cache with no TTL (the primary-store use): it is also the last good copy of
    the country's rows that requests fall back to while the catalog cannot answer."""

    country: str
    computed_at: float
    titles: dict[str, Card]
    new: list[str] = Field(description="catalog order: newest first")
    popular: list[str] = Field(description="most played first, then catalog order")
    plays: dict[str, int]
    popularity: Literal["history", "catalog"]
    genres: list[GenreIds]
