"""Fresh databases, fast: migrate a template once, then copy it for every test.

:class:`SqliteDatabases`, :class:`ServerDatabases` (PostgreSQL or MariaDB) share one shape:

* ``fresh()``: the URL of a new database at the head of the migration chain, with no rows but
  what the migrations insert. The template is migrated on the first call; afterwards a copy
  costs a few milliseconds (a file copy; ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL; each
  table's definition and rows on MariaDB);
* ``empty()``: the URL of a new database with no tables at all (for migration tests);
* ``drop(url)``: delete one of them.

:func:`db_urls` starts the servers outside pytest (benchmarks) and yields one URL per database.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Protocol

from sqlalchemy.engine import make_url

from matinee.db import upgrade
from matinee.db.urls import Dialect
from matinee.testing.servers.mariadb import MariaDbServer
from matinee.testing.servers.postgres import PostgresServer
from matinee.testing.servers.process import pick_port, private_dir

TEMPLATE = "matinee_template"
DIALECTS: tuple[Dialect, ...] = ("sqlite", "postgresql", "mysql")


class Databases(Protocol):
    @property
    def dialect(self) -> Dialect: ...

    def fresh(self) -> str: ...

    def empty(self) -> str: ...

    def drop(self, url: str) -> None: ...


class DatabaseServer(Protocol):
    """What :class:`ServerDatabases` needs of :class:`PostgresServer` or :class:`MariaDbServer`."""

    @property
    def dialect(self) -> Dialect: ...

    def create_database(self, name: str, template: str | None = None) -> str: ...

    def drop_database(self, name: str) -> None: ...


def _name() -> str:
    return f"t_{uuid.uuid4().hex[:16]}"


class SqliteDatabases:
    """SQLite files under ``root``; a fresh one is a copy of the migrated template file."""

    dialect: Dialect = "sqlite"

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._template: Path | None = None
        self._lock = threading.Lock()

    def _template_file(self) -> Path:
        with self._lock:
            if self._template is None:
                path = self.root / f"{TEMPLATE}.db"
                upgrade(f"sqlite:///{path}")  # its engine is disposed: the WAL is folded back in
                self._template = path
            return self._template

    def fresh(self) -> str:
        path = self.root / f"{_name()}.db"
        shutil.copyfile(self._template_file(), path)
        return f"sqlite:///{path}"

    def empty(self) -> str:
        return f"sqlite:///{self.root / f'{_name()}.db'}"

    def drop(self, url: str) -> None:
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm", "-journal"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)


class ServerDatabases:
    """Databases on a running PostgreSQL or MariaDB server, copied from a migrated template."""

    def __init__(self, server: DatabaseServer) -> None:
        self.server = server
        self.dialect: Dialect = server.dialect
        self._migrated = False
        self._lock = threading.Lock()

    def _ensure_template(self) -> None:
        with self._lock:
            if not self._migrated:
                self.server.drop_database(TEMPLATE)
                upgrade(self.server.create_database(TEMPLATE))
                self._migrated = True

    def fresh(self) -> str:
        self._ensure_template()
        return self.server.create_database(_name(), template=TEMPLATE)

    def empty(self) -> str:
        return self.server.create_database(_name())

    def drop(self, url: str) -> None:
        name = make_url(url).database
        if name and name != TEMPLATE:
            self.server.drop_database(name)


@contextmanager
def db_urls(
    root: Path | None = None,
    dialects: Sequence[Dialect] = DIALECTS,
    *,
    ports: tuple[int, int] = (15480, 15499),
    migrate: bool = True,
) -> Iterator[dict[Dialect, str]]:
    """Start what ``dialects`` need (servers on free ports in ``ports``, files under ``root``,
    a temporary directory by default) and yield ``{dialect: url}`` of one new database each,
    migrated to head unless ``migrate`` is false. Everything stops when the block ends::

        with db_urls(dialects=("sqlite", "postgresql")) as urls:
            run_benchmark(urls["postgresql"])
    """
    with ExitStack() as stack:
        base = root
        if base is None:
            base = private_dir("matinee-db-")
            stack.callback(shutil.rmtree, base, ignore_errors=True)
        urls: dict[Dialect, str] = {}
        for dialect in dialects:
            databases: Databases
            if dialect == "sqlite":
                databases = SqliteDatabases(base / "sqlite")
            elif dialect == "postgresql":
                pg = stack.enter_context(PostgresServer(pick_port(*ports), base / "postgresql"))
                databases = ServerDatabases(pg)
            else:
                maria = stack.enter_context(MariaDbServer(pick_port(*ports), base / "mysql"))
                databases = ServerDatabases(maria)
            urls[dialect] = databases.fresh() if migrate else databases.empty()
        yield urls
