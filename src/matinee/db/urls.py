"""Database URLs: the user names a database, matinee picks the driver for each mode.

A user writes ``sqlite:///path``, ``postgresql://user:pw@host/db`` or ``mysql://...`` (also
``mariadb://``). The synchronous side (Alembic migrations, the job store) and the asynchronous
side (the services) need different drivers; a URL that already names a driver keeps it.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy.engine import URL, make_url

from matinee.errors import MatineeError

Dialect = Literal["sqlite", "postgresql", "mysql"]

_SYNC_DRIVERS = {"sqlite": "pysqlite", "postgresql": "psycopg", "mysql": "pymysql"}
_ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg", "mysql": "aiomysql"}
_ALIASES: dict[str, Dialect] = {
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
}


class UnsupportedDatabase(MatineeError):
    """The database URL names an engine matinee does not support."""


def dialect_of(url: str | URL) -> Dialect:
    """``sqlite``, ``postgresql`` or ``mysql`` (MariaDB speaks MySQL's dialect)."""
    parsed = make_url(url) if isinstance(url, str) else url
    backend = parsed.get_backend_name()
    dialect = _ALIASES.get(backend)
    if dialect is None:
        raise UnsupportedDatabase(
            f"matinee supports SQLite, PostgreSQL and MySQL/MariaDB, not {backend!r} "
            f"(database URL {parsed.render_as_string(hide_password=True)})"
        )
    return dialect


def _with_driver(url: str, drivers: dict[str, str], *, keep_driver: bool) -> URL:
    parsed = make_url(url)
    dialect = dialect_of(parsed)
    driver = parsed.get_driver_name() if keep_driver and "+" in parsed.drivername else None
    parsed = parsed.set(drivername=f"{dialect}+{driver or drivers[dialect]}")
    if dialect == "mysql" and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


def sync_url(url: str) -> URL:
    """``url`` with a synchronous driver (psycopg, PyMySQL, the standard sqlite3)."""
    parsed = make_url(url)
    keep = parsed.get_driver_name() not in _ASYNC_DRIVERS.values()
    return _with_driver(url, _SYNC_DRIVERS, keep_driver=keep)


def async_url(url: str) -> URL:
    """``url`` with an asyncio driver (asyncpg, aiomysql, aiosqlite)."""
    parsed = make_url(url)
    keep = parsed.get_driver_name() not in _SYNC_DRIVERS.values()
    return _with_driver(url, _ASYNC_DRIVERS, keep_driver=keep)


def safe(url: str | URL) -> str:
    """``url`` without its password, for logs and error messages."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.render_as_string(hide_password=True)
