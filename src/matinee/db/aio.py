"""The asynchronous side of the relational layer, which the services use.

:class:`Database` owns one async engine and hands out sessions in two shapes:

* ``read()``: a session for queries; nothing is committed;
* ``write()``: a session whose work commits on a clean exit and rolls back on an error. On
  SQLite it starts with ``BEGIN IMMEDIATE``, so two writers queue on the lock (for up to the
  busy timeout) instead of one failing halfway with "database is locked".

A read-modify-write in ``write()`` reads the row with ``select(...).with_for_update()``: on
PostgreSQL and MySQL that row lock makes concurrent writers of the row queue (SQLite ignores it
and queues them at BEGIN IMMEDIATE), so no update is lost on any of the three.

A database that cannot be reached, or that asks to be retried (a deadlock, a lock timeout, a
shutdown), surfaces as :class:`DatabaseUnavailable` (HTTP 503), whatever the driver said. Bugs
(an unknown column) and integrity errors keep their own exception: the repositories know what
those mean.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from matinee.db.urls import Dialect, async_url, dialect_of, safe
from matinee.errors import MatineeError

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_S = 30.0


class DatabaseUnavailable(MatineeError):
    """The database could not be reached or failed under the request (HTTP 503)."""


# What counts as "not available right now" (HTTP 503, try again) rather than a bug or bad data.
# SQLite primary result codes: BUSY, LOCKED, NOMEM, IOERR, FULL, CANTOPEN, PROTOCOL.
_SQLITE_UNAVAILABLE = {5, 6, 7, 10, 13, 14, 15}
# PostgreSQL SQLSTATE classes: connection exception, transaction rollback (serialization failure,
# deadlock), insufficient resources, operator intervention (shutdown), system error.
_POSTGRES_UNAVAILABLE = ("08", "40", "53", "57", "58")
# MySQL/MariaDB error numbers: too many connections, bad handshake, access denied (a server that
# will not let us in), shutdown in progress, lock wait timeout, deadlock, connection killed,
# client-side connection failures (2002-2055), idle disconnect. PyMySQL reports many plain
# mistakes (an unknown column) as OperationalError too, so the class alone says nothing.
_MYSQL_UNAVAILABLE = {1040, 1043, 1045, 1053, 1205, 1213, 1927, 4031, *range(2000, 2100)}


# A transaction the database chose to abort so another could go on (MySQL deadlock 1213;
# PostgreSQL serialization failure 40001, deadlock 40P01): nothing of it was kept, so running
# it again is safe, and is what both databases' manuals ask of the application.
_MYSQL_RETRY = {1213}
_POSTGRES_RETRY = ("40001", "40P01")
RETRIES = 3
T = TypeVar("T")


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it was raised from) is a transaction aborted to break a
    deadlock or a serialization conflict."""
    found: BaseException | None = exc
    while found is not None:
        if isinstance(found, DBAPIError):
            orig = found.orig
            if _is_mysql(orig):
                args: tuple[object, ...] = tuple(getattr(orig, "args", ()))
                return len(args) > 0 and args[0] in _MYSQL_RETRY
            return getattr(orig, "sqlstate", None) in _POSTGRES_RETRY
        found = found.__cause__
    return False


def _is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, OSError | ConnectionError | TimeoutError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(exc, InterfaceError):
        return True
    verdict = _driver_says_unavailable(exc.orig)
    # Unknown shape: an OperationalError is the driver's "the database had a problem".
    return verdict if verdict is not None else isinstance(exc, OperationalError)


def _driver_says_unavailable(orig: BaseException | None) -> bool | None:
    """The verdict of the driver's own error code, when it gives one."""
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int):
        return sqlite_code & 0xFF in _SQLITE_UNAVAILABLE
    if _is_mysql(orig):
        args = getattr(orig, "args", ())
        return args[0] in _MYSQL_UNAVAILABLE if args and isinstance(args[0], int) else None
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str) and len(sqlstate) == 5:
        return sqlstate.startswith(_POSTGRES_UNAVAILABLE)
    return None


def _is_mysql(orig: BaseException | None) -> bool:
    return type(orig).__module__.startswith(("pymysql", "aiomysql"))


def make_async_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An async engine for ``url`` (any form :func:`matinee.db.urls.async_url` accepts)."""
    dialect = dialect_of(url)
    if dialect == "sqlite":
        engine = create_async_engine(
            async_url(url), connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}
        )
        _sqlite_transactions(engine)
        return engine
    return create_async_engine(
        async_url(url), pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size
    )


def _sqlite_transactions(engine: AsyncEngine) -> None:
    """Let matinee emit BEGIN itself (the sqlite3 module's own is always DEFERRED)."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # autocommit at the driver: we emit BEGIN below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """One async engine and its sessions. Close it with :meth:`close` (or use :meth:`lifespan`)."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.dialect: Dialect = dialect_of(url)
        self.engine = make_async_engine(url, pool_size=pool_size)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"Database({safe(self.url)!r})"

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for queries (rolled back at the end)."""
        try:
            async with self._sessions() as session:
                yield session
        except Exception as exc:
            self._raise_unavailable(exc)
            raise

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed on a clean exit, rolled back on an error."""
        try:
            async with self._sessions() as session:
                if self.dialect == "sqlite":
                    await session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
                yield session
                await session.commit()
        except Exception as exc:
            self._raise_unavailable(exc)
            raise

    async def transaction(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """``work`` in one :meth:`write` transaction, run again (up to ``RETRIES`` times in
        all) when the database aborted it to break a deadlock or a serialization conflict."""
        for attempt in range(1, RETRIES + 1):
            try:
                async with self.write() as session:
                    return await work(session)
            except Exception as exc:
                if attempt == RETRIES or not is_retryable(exc):
                    raise
                log.info(
                    "database %s aborted a transaction (%s); running it again", safe(self.url), exc
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def _raise_unavailable(self, exc: Exception) -> None:
        if isinstance(exc, MatineeError) or not _is_unavailable(exc):
            return
        log.warning("database %s failed: %s", safe(self.url), exc)
        raise DatabaseUnavailable(
            "The database is not available right now; try again shortly."
        ) from exc

    async def close(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """For :meth:`ServiceContext.add_lifespan`: dispose of the pool when the instance stops."""
        try:
            yield
        finally:
            await self.close()
