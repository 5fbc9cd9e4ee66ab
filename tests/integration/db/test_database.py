"""The contract of :class:`matinee.db.aio.Database` on SQLite, PostgreSQL and MariaDB: read and
write sessions, commit and rollback, writers that serialize, and a database that cannot be
reached surfacing as :class:`DatabaseUnavailable` in plain words."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from matinee.db import make_engine
from matinee.db.aio import RETRIES, Database, DatabaseUnavailable, is_retryable
from matinee.testing.servers import MariaDbServer, PostgresServer, pick_port
from matinee.testing.servers.process import port_is_free

meta = MetaData()
counters = Table(
    "test_counters",
    meta,
    Column("name", String(32), primary_key=True),
    Column("value", Integer, nullable=False),
)


@pytest.fixture
def url(db_url: str) -> str:
    """``db_url`` with a small table of counters of the test's own."""
    engine = make_engine(db_url)
    meta.create_all(engine)
    engine.dispose()
    return db_url


async def _value(db: Database, name: str = "a") -> int | None:
    async with db.read() as s:
        return (await s.execute(select(counters.c.value).where(counters.c.name == name))).scalar()


def test_the_dialect_is_named_by_the_url(url: str, request: pytest.FixtureRequest) -> None:
    assert Database(url).dialect == request.node.callspec.id


def test_a_write_commits_on_a_clean_exit_and_rolls_back_on_an_error(url: str) -> None:
    async def main() -> None:
        db = Database(url)
        try:
            async with db.write() as s:
                await s.execute(insert(counters).values(name="a", value=1))
            assert await _value(db) == 1

            async def change_then_fail() -> None:
                async with db.write() as s:
                    await s.execute(update(counters).values(value=2))
                    assert (await s.execute(select(counters.c.value))).scalar() == 2
                    raise RuntimeError("changed my mind")

            with pytest.raises(RuntimeError, match="changed my mind"):
                await change_then_fail()
            assert await _value(db) == 1

            async with db.read() as s:  # a read session commits nothing
                await s.execute(update(counters).values(value=3))
            assert await _value(db) == 1
        finally:
            await db.close()

    asyncio.run(main())


def test_an_integrity_error_is_left_to_the_caller(url: str) -> None:
    async def main() -> None:
        db = Database(url)
        try:
            async with db.write() as s:
                await s.execute(insert(counters).values(name="a", value=1))

            async def insert_b_then_a_again() -> None:
                async with db.write() as s:
                    await s.execute(insert(counters).values(name="b", value=2))
                    await s.execute(insert(counters).values(name="a", value=3))

            with pytest.raises(IntegrityError):
                await insert_b_then_a_again()
            assert await _value(db, "b") is None  # the whole transaction went
        finally:
            await db.close()

    asyncio.run(main())


def test_a_programming_error_is_not_reported_as_an_unavailable_database(url: str) -> None:
    async def main() -> None:
        db = Database(url)
        try:
            async with db.read() as s:
                await s.execute(select(counters.c.value).where(counters.c.name == "a"))
            for bad in ("SELECT x FROM no_such_table", "SELECT no_such_column FROM test_counters"):
                with pytest.raises(DBAPIError) as caught:
                    async with db.read() as s:
                        await s.execute(text(bad))
                assert not isinstance(caught.value, DatabaseUnavailable)
        finally:
            await db.close()

    asyncio.run(main())


def test_concurrent_read_modify_write_transactions_serialize(url: str) -> None:
    """Twenty writers each read a counter, yield to the others, and write it back plus one.
    Locking the row (FOR UPDATE; SQLite's write transactions take the lock at BEGIN) makes
    them queue, so no increment is lost."""
    writers = 20

    async def main() -> None:
        db = Database(url)
        try:
            async with db.write() as s:
                await s.execute(insert(counters).values(name="a", value=0))

            async def increment() -> None:
                async with db.write() as s:
                    stmt = select(counters.c.value).where(counters.c.name == "a").with_for_update()
                    value = (await s.execute(stmt)).scalar_one()
                    await asyncio.sleep(0.001)
                    await s.execute(
                        update(counters).where(counters.c.name == "a").values(value=value + 1)
                    )

            await asyncio.gather(*(increment() for _ in range(writers)))
            assert await _value(db) == writers
        finally:
            await db.close()

    asyncio.run(main())


def test_an_unreachable_database_is_unavailable_in_plain_words(
    db_factory: object, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    dialect = request.node.callspec.id
    port = pick_port(15480, 15499)
    assert port_is_free(port)
    url = {
        "sqlite": f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.db'}",
        "postgresql": f"postgresql://matinee:pw@127.0.0.1:{port}/matinee",
        "mysql": f"mysql://matinee:pw@127.0.0.1:{port}/matinee",
    }[dialect]

    async def main() -> None:
        db = Database(url)
        try:
            with pytest.raises(DatabaseUnavailable) as caught:
                async with db.read() as s:
                    await s.execute(select(1))
            with pytest.raises(DatabaseUnavailable):
                async with db.write() as s:
                    await s.execute(select(1))
        finally:
            await db.close()
        assert str(caught.value) == "The database is not available right now; try again shortly."
        await asyncio.to_thread(_join_aiosqlite_threads)

    asyncio.run(main())


def _join_aiosqlite_threads() -> None:
    # aiosqlite stops the worker thread of a connection that failed to open without awaiting
    # it; if the event loop closes first, that thread raises "Event loop is closed"
    # (omnilib/aiosqlite#389). Let them finish while the loop still runs.
    for thread in threading.enumerate():
        if "_connection_worker_thread" in thread.name:
            thread.join(timeout=10)


@pytest.fixture(params=["postgresql", "mysql"])
def own_server(
    request: pytest.FixtureRequest, db_root: Path
) -> Iterator[PostgresServer | MariaDbServer]:
    """A server of this test's own, which it may stop and start."""
    port = pick_port(15480, 15499)
    root = db_root / f"own-{request.param}"
    server: PostgresServer | MariaDbServer = (
        PostgresServer(port, root) if request.param == "postgresql" else MariaDbServer(port, root)
    )
    with server:
        yield server


def test_a_server_that_stops_is_unavailable_until_it_is_back(
    own_server: PostgresServer | MariaDbServer,
) -> None:
    url = own_server.create_database("matinee")
    engine = make_engine(url)
    meta.create_all(engine)
    engine.dispose()

    async def main() -> None:
        db = Database(url)
        try:
            async with db.write() as s:
                await s.execute(insert(counters).values(name="a", value=1))
            own_server.stop(keep_files=True)
            for _ in range(2):  # the pooled connection is dead, and so is a new one
                with pytest.raises(DatabaseUnavailable, match="not available right now"):
                    await _value(db)
            with pytest.raises(DatabaseUnavailable):
                async with db.write() as s:
                    await s.execute(update(counters).values(value=2))
            own_server.start()
            assert await _value(db) == 1
        finally:
            await db.close()

    asyncio.run(main())


def test_a_transaction_aborted_to_break_a_deadlock_runs_again(tmp_path: Path) -> None:
    def aborted(code: int) -> DBAPIError:
        return DBAPIError("INSERT ...", {}, pymysql.err.OperationalError(code, "Deadlock found"))

    assert is_retryable(aborted(1213))
    assert not is_retryable(aborted(1205))  # a lock wait timeout: the caller says "try later"
    assert not is_retryable(ValueError("no"))

    async def main() -> None:
        db = Database(f"sqlite:///{tmp_path / 'retry.db'}")
        runs: list[int] = []

        async def work(session: object) -> str:
            runs.append(len(runs))
            if len(runs) < RETRIES:
                raise aborted(1213)
            return "done"

        try:
            assert await db.transaction(work) == "done"
            assert len(runs) == RETRIES
            runs.clear()

            async def always(session: object) -> str:
                runs.append(0)
                raise aborted(1213)

            with pytest.raises(DatabaseUnavailable):  # given up: the 503 "try again shortly"
                await db.transaction(always)
            assert len(runs) == RETRIES
        finally:
            await db.close()

    asyncio.run(main())
