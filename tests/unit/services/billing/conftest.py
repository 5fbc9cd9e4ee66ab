"""Fixtures for the billing tests: a SQLite-only database for the state-machine tests (the
store and idempotency tests take ``db_url`` and run on all three databases)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from matinee.testing.servers import SqliteDatabases


@pytest.fixture
def sqlite_url(sqlite_databases: SqliteDatabases) -> Iterator[str]:
    """A fresh SQLite database migrated to head (the plans in it)."""
    url = sqlite_databases.fresh()
    yield url
    sqlite_databases.drop(url)
