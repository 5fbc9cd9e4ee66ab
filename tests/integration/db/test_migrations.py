"""The one migration chain runs up and down on SQLite, PostgreSQL and MariaDB, and leaves the
schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from matinee.db import Base, current_revision, head_revision, make_engine, upgrade
from matinee.db.migrate import downgrade
from matinee.db.models import load_all


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _drift(url: str) -> list[object]:
    """What the models declare that the migrated schema lacks or has otherwise: tables, columns,
    nullability, indexes, unique constraints, foreign keys. Column types are left out (each
    database spells them its own way), and so is what the database has beyond the models:
    objects a migration makes with the database's own DDL, such as full-text indexes."""
    load_all()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": False})
            diffs = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    return [d for d in diffs if not (isinstance(d, tuple) and str(d[0]).startswith("remove_"))]


def test_the_chain_goes_up_down_and_up_again(empty_db_url: str) -> None:
    head = head_revision()
    assert current_revision(empty_db_url) is None

    first = upgrade(empty_db_url)
    assert (first.before, first.after) == (None, head)
    assert {"jobs", "tasks", "assets", "tracks", "alembic_version"} <= _tables(empty_db_url)
    assert _drift(empty_db_url) == []
    again = upgrade(empty_db_url)
    assert (again.before, again.after, again.changed) == (head, head, False)

    down = downgrade(empty_db_url, "base")
    assert (down.before, down.after) == (head, None)
    assert _tables(empty_db_url) <= {"alembic_version"}

    assert upgrade(empty_db_url).after == head
    assert _drift(empty_db_url) == []


def test_a_fresh_test_database_is_at_head_with_no_rows(db_url: str) -> None:
    assert current_revision(db_url) == head_revision()
    assert _drift(db_url) == []
