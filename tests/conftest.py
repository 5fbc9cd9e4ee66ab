"""Fixtures shared by every test layer.

Databases: ``db_url`` runs a test once per database (ids ``sqlite``, ``postgresql``, ``mysql``)
with the URL of a fresh database migrated to head. PostgreSQL and MariaDB are started once per
session, only when a test asks for them, on free ports of 127.0.0.1 (15400-15479), and stopped
at the end. A server that cannot start fails its tests with its own last words; nothing skips.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from matinee.platform import Platform
from matinee.settings import Settings
from matinee.testing.pipeline import MakePlatform
from matinee.testing.servers import (
    DIALECTS,
    Databases,
    MariaDbServer,
    PostgresServer,
    ServerDatabases,
    SqliteDatabases,
    pick_port,
    private_dir,
)

POSTGRES_PORTS = (15400, 15439)
MARIADB_PORTS = (15440, 15479)


@pytest.fixture
def make_platform(tmp_path: Path) -> MakePlatform:
    """A Platform on embedded defaults in a fresh data directory, tuned for fast tests
    (ultrafast x264, short chunks and segments). Keyword arguments override Settings fields."""

    def make(**overrides: Any) -> Platform:
        fields: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "x264_preset": "ultrafast",
            "workers": 2,
            "chunk_seconds": 4.0,
            "segment_seconds": 2.0,
            "vmaf_subsample": 4,
            **overrides,
        }
        return Platform(Settings(**fields))

    return make


@pytest.fixture(scope="session")
def db_root() -> Iterator[Path]:
    """Where this session's databases live: in memory (/dev/shm) when the machine has it, so
    database tests never wait on a disk that encodes are busy with. Removed at the end."""
    root = private_dir("matinee-test-db-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server(db_root: Path) -> Iterator[PostgresServer]:
    """A PostgreSQL server for this session (superuser ``matinee``; see ``.url(db)``)."""
    with PostgresServer(pick_port(*POSTGRES_PORTS), db_root / "postgresql") as server:
        yield server


@pytest.fixture(scope="session")
def mariadb_server(db_root: Path) -> Iterator[MariaDbServer]:
    """A MariaDB server for this session (user ``matinee`` with every privilege)."""
    with MariaDbServer(pick_port(*MARIADB_PORTS), db_root / "mysql") as server:
        yield server


@pytest.fixture(scope="session")
def sqlite_databases(db_root: Path) -> SqliteDatabases:
    return SqliteDatabases(db_root / "sqlite")


@pytest.fixture(scope="session")
def postgresql_databases(postgres_server: PostgresServer) -> ServerDatabases:
    return ServerDatabases(postgres_server)


@pytest.fixture(scope="session")
def mysql_databases(mariadb_server: MariaDbServer) -> ServerDatabases:
    return ServerDatabases(mariadb_server)


@pytest.fixture(params=DIALECTS)
def db_factory(request: pytest.FixtureRequest) -> Databases:
    """The session's databases of one kind: the test runs once per ``sqlite``, ``postgresql``,
    ``mysql`` (``.fresh()``, ``.empty()``, ``.drop(url)``). Only that kind's server starts."""
    found: Databases = request.getfixturevalue(f"{request.param}_databases")
    return found


@pytest.fixture
def db_url(db_factory: Databases) -> Iterator[str]:
    """A fresh database migrated to head with no rows of its own, once per database kind
    (``sqlite``, ``postgresql``, ``mysql``); dropped after the test."""
    url = db_factory.fresh()
    yield url
    db_factory.drop(url)


@pytest.fixture
def empty_db_url(db_factory: Databases) -> Iterator[str]:
    """A new database with no tables at all, once per database kind; dropped after the test."""
    url = db_factory.empty()
    yield url
    db_factory.drop(url)
