"""The catalog service's tables.

A *title* is a movie, a series or an episode (an episode points at its series and has a season
and an episode number). Genres and people are shared between titles; a credit says who played
or made what in one title. Availability windows say where and when a title may be watched.

Search has two derived tables, written only by :mod:`matinee.services.catalog.search`:
``catalog_search_docs`` (one row of normalized text per searchable title, which each database's
own full-text engine indexes: see migration 0004) and ``catalog_search_terms`` (the vocabulary
that typo correction works on).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column, relationship

from matinee.db.base import Base, UTCDateTime

KINDS = ("movie", "series", "episode")
MATURITY_RATINGS = (0, 7, 13, 16, 18)
TERM_LENGTH = 64

# Vocabulary terms compare byte for byte: MySQL's default collations would call "e" and "é"
# the same key and refuse the second row.
TermString = String(TERM_LENGTH).with_variant(
    mysql.VARCHAR(TERM_LENGTH, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)


class Title(Base):
    __tablename__ = "catalog_titles"
    __table_args__ = (
        UniqueConstraint("series_id", "season", "episode", name="uq_catalog_titles_episode"),
        Index("ix_catalog_titles_listing_name", "kind", "sort_name", "id"),
        Index("ix_catalog_titles_listing_newest", "kind", "release_year", "sort_name", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # movie | series | episode
    name: Mapped[str] = mapped_column(String(300))
    sort_name: Mapped[str] = mapped_column(String(300))  # lower-case name, for ordering
    synopsis: Mapped[str] = mapped_column(Text, default="")
    maturity: Mapped[int] = mapped_column(Integer)
    release_year: Mapped[int] = mapped_column(Integer)
    runtime_s: Mapped[int | None] = mapped_column(Integer, default=None)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    series_id: Mapped[str | None] = mapped_column(
        ForeignKey("catalog_titles.id", ondelete="CASCADE"), default=None, index=True
    )
    season: Mapped[int | None] = mapped_column(Integer, default=None)
    episode: Mapped[int | None] = mapped_column(Integer, default=None)
    # The packaged media asset this title plays, and what the catalog keeps of it.
    asset_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    poster_key: Mapped[str | None] = mapped_column(String(300), default=None)
    trickplay_key: Mapped[str | None] = mapped_column(String(300), default=None)
    asset_duration_s: Mapped[float | None] = mapped_column(Float, default=None)
    asset_max_height: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    genres: Mapped[list[Genre]] = relationship(
        secondary="catalog_title_genres", order_by="Genre.name", lazy="raise"
    )
    credits: Mapped[list[Credit]] = relationship(
        cascade="all, delete-orphan", order_by="Credit.position", lazy="raise"
    )
    availability: Mapped[list[Availability]] = relationship(
        cascade="all, delete-orphan", order_by="Availability.country", lazy="raise"
    )


class Genre(Base):
    __tablename__ = "catalog_genres"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))


class TitleGenre(Base):
    __tablename__ = "catalog_title_genres"

    title_id: Mapped[str] = mapped_column(
        ForeignKey("catalog_titles.id", ondelete="CASCADE"), primary_key=True
    )
    genre_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_genres.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Person(Base):
    __tablename__ = "catalog_people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class Credit(Base):
    """One person's part in one title: an actor (with the character) or a director, ..."""

    __tablename__ = "catalog_credits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title_id: Mapped[str] = mapped_column(
        ForeignKey("catalog_titles.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_people.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(32))
    character: Mapped[str | None] = mapped_column(String(200), default=None)
    position: Mapped[int] = mapped_column(Integer)  # billing order

    person: Mapped[Person] = relationship(lazy="joined")


class Availability(Base):
    """A window in which a title may be watched in one country; ``ends_at`` None is open."""

    __tablename__ = "catalog_availability"
    __table_args__ = (Index("ix_catalog_availability_country_title", "country", "title_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title_id: Mapped[str] = mapped_column(
        ForeignKey("catalog_titles.id", ondelete="CASCADE"), index=True
    )
    country: Mapped[str] = mapped_column(String(2))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class SearchDoc(Base):
    """The normalized text of one searchable title (movie or series): ``name`` and ``body``
    (synopsis, genres, cast). Each database's full-text engine indexes this table."""

    __tablename__ = "catalog_search_docs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title_id: Mapped[str] = mapped_column(
        ForeignKey("catalog_titles.id", ondelete="CASCADE"), unique=True
    )
    name: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)


class SearchTerm(Base):
    """One distinct term of one title's search text: together, the vocabulary."""

    __tablename__ = "catalog_search_terms"

    term: Mapped[str] = mapped_column(TermString, primary_key=True)
    title_id: Mapped[str] = mapped_column(
        ForeignKey("catalog_titles.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class SearchState(Base):
    """One row: ``generation`` moves whenever the vocabulary changes, so every instance knows
    when to reload its copy."""

    __tablename__ = "catalog_search_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(Integer)
