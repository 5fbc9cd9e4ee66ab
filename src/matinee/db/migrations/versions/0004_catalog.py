"""titles, seasons, episodes, availability and full-text search

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 11:00:00

The portable tables come first. Full-text search then gets each database's own engine over
``catalog_search_docs`` (normalized text the catalog writes on every change of a title):

* SQLite: an FTS5 table with external content (``catalog_search``), kept in step with
  ``catalog_search_docs`` by three triggers;
* PostgreSQL: a stored generated ``tsvector`` column (name weighted A, the rest B) with a GIN
  index, so the database itself keeps it in step;
* MySQL/MariaDB: InnoDB FULLTEXT indexes on (name) and (name, body), created without a stopword
  list so "the" and "it" are searchable (the minimum token size still applies; the catalog
  matches shorter terms with LIKE).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import matinee.db.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}
TERM = sa.String(64).with_variant(
    mysql.VARCHAR(64, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE catalog_search USING fts5(name, body, content='catalog_search_docs',"
    " content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER catalog_search_docs_ai AFTER INSERT ON catalog_search_docs BEGIN"
    " INSERT INTO catalog_search(rowid, name, body) VALUES (new.id, new.name, new.body); END",
    "CREATE TRIGGER catalog_search_docs_ad AFTER DELETE ON catalog_search_docs BEGIN"
    " INSERT INTO catalog_search(catalog_search, rowid, name, body)"
    " VALUES ('delete', old.id, old.name, old.body); END",
    "CREATE TRIGGER catalog_search_docs_au AFTER UPDATE ON catalog_search_docs BEGIN"
    " INSERT INTO catalog_search(catalog_search, rowid, name, body)"
    " VALUES ('delete', old.id, old.name, old.body);"
    " INSERT INTO catalog_search(rowid, name, body) VALUES (new.id, new.name, new.body); END",
]
POSTGRES_FTS = [
    "ALTER TABLE catalog_search_docs ADD COLUMN document tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('simple', name), 'A') || setweight(to_tsvector('simple', body), 'B')"
    ") STORED",
    "CREATE INDEX ix_catalog_search_docs_document ON catalog_search_docs USING GIN (document)",
]
MYSQL_FTS = [
    # Read when an index is created: these indexes keep every word, stopwords included.
    "SET SESSION innodb_ft_enable_stopword = OFF",
    "CREATE FULLTEXT INDEX ix_catalog_search_docs_name ON catalog_search_docs (name)",
    "CREATE FULLTEXT INDEX ix_catalog_search_docs_text ON catalog_search_docs (name, body)",
]


def _titles() -> None:
    op.create_table(
        "catalog_titles",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("sort_name", sa.String(length=300), nullable=False),
        sa.Column("synopsis", sa.Text(), nullable=False),
        sa.Column("maturity", sa.Integer(), nullable=False),
        sa.Column("release_year", sa.Integer(), nullable=False),
        sa.Column("runtime_s", sa.Integer(), nullable=True),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("series_id", sa.String(length=36), nullable=True),
        sa.Column("season", sa.Integer(), nullable=True),
        sa.Column("episode", sa.Integer(), nullable=True),
        sa.Column("asset_id", sa.String(length=36), nullable=True),
        sa.Column("poster_key", sa.String(length=300), nullable=True),
        sa.Column("trickplay_key", sa.String(length=300), nullable=True),
        sa.Column("asset_duration_s", sa.Float(), nullable=True),
        sa.Column("asset_max_height", sa.Integer(), nullable=True),
        sa.Column("created_at", matinee.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", matinee.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["catalog_titles.id"],
            name=op.f("fk_catalog_titles_series_id_catalog_titles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_titles")),
        sa.UniqueConstraint("series_id", "season", "episode", name="uq_catalog_titles_episode"),
        **MYSQL,
    )
    op.create_index("ix_catalog_titles_series_id", "catalog_titles", ["series_id"], unique=False)
    op.create_index("ix_catalog_titles_asset_id", "catalog_titles", ["asset_id"], unique=False)
    op.create_index("ix_catalog_titles_listing_name", "catalog_titles", ["kind", "sort_name", "id"])
    op.create_index(
        "ix_catalog_titles_listing_newest",
        "catalog_titles",
        ["kind", "release_year", "sort_name", "id"],
    )


def _genres_and_people() -> None:
    op.create_table(
        "catalog_genres",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_genres")),
        sa.UniqueConstraint("slug", name=op.f("uq_catalog_genres_slug")),
        **MYSQL,
    )
    op.create_table(
        "catalog_title_genres",
        sa.Column("title_id", sa.String(length=36), nullable=False),
        sa.Column("genre_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["genre_id"],
            ["catalog_genres.id"],
            name=op.f("fk_catalog_title_genres_genre_id_catalog_genres"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["title_id"],
            ["catalog_titles.id"],
            name=op.f("fk_catalog_title_genres_title_id_catalog_titles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("title_id", "genre_id", name=op.f("pk_catalog_title_genres")),
        **MYSQL,
    )
    op.create_index("ix_catalog_title_genres_genre_id", "catalog_title_genres", ["genre_id"])
    op.create_table(
        "catalog_people",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_people")),
        sa.UniqueConstraint("name", name=op.f("uq_catalog_people_name")),
        **MYSQL,
    )
    op.create_table(
        "catalog_credits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title_id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("character", sa.String(length=200), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["catalog_people.id"],
            name=op.f("fk_catalog_credits_person_id_catalog_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["title_id"],
            ["catalog_titles.id"],
            name=op.f("fk_catalog_credits_title_id_catalog_titles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_credits")),
        **MYSQL,
    )
    op.create_index("ix_catalog_credits_title_id", "catalog_credits", ["title_id"])
    op.create_index("ix_catalog_credits_person_id", "catalog_credits", ["person_id"])


def _availability() -> None:
    op.create_table(
        "catalog_availability",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title_id", sa.String(length=36), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("starts_at", matinee.db.base.UTCDateTime(), nullable=False),
        sa.Column("ends_at", matinee.db.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["title_id"],
            ["catalog_titles.id"],
            name=op.f("fk_catalog_availability_title_id_catalog_titles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_availability")),
        **MYSQL,
    )
    op.create_index("ix_catalog_availability_title_id", "catalog_availability", ["title_id"])
    op.create_index(
        "ix_catalog_availability_country_title", "catalog_availability", ["country", "title_id"]
    )


def _search() -> None:
    op.create_table(
        "catalog_search_docs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["title_id"],
            ["catalog_titles.id"],
            name=op.f("fk_catalog_search_docs_title_id_catalog_titles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_search_docs")),
        sa.UniqueConstraint("title_id", name=op.f("uq_catalog_search_docs_title_id")),
        **MYSQL,
    )
    op.create_table(
        "catalog_search_terms",
        sa.Column("term", TERM, nullable=False),
        sa.Column("title_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["title_id"],
            ["catalog_titles.id"],
            name=op.f("fk_catalog_search_terms_title_id_catalog_titles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("term", "title_id", name=op.f("pk_catalog_search_terms")),
        **MYSQL,
    )
    op.create_index("ix_catalog_search_terms_title_id", "catalog_search_terms", ["title_id"])
    op.create_table(
        "catalog_search_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_search_state")),
        **MYSQL,
    )
    op.execute("INSERT INTO catalog_search_state (id, generation) VALUES (1, 0)")
    dialect = op.get_bind().dialect.name
    statements = {"sqlite": SQLITE_FTS, "postgresql": POSTGRES_FTS}.get(dialect, MYSQL_FTS)
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    _titles()
    _genres_and_people()
    _availability()
    _search()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS catalog_search")  # the triggers go with their table
    for table in (
        "catalog_search_state",
        "catalog_search_terms",
        "catalog_search_docs",
        "catalog_availability",
        "catalog_credits",
        "catalog_people",
        "catalog_title_genres",
        "catalog_genres",
        "catalog_titles",
    ):
        op.drop_table(table)
