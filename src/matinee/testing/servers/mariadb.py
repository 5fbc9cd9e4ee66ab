"""A throwaway MariaDB server on loopback, from Debian's packages, for tests and benchmarks.

:class:`MariaDbServer` runs ``mariadb-install-db`` into a fresh data directory under
``root_dir`` and starts ``mariadbd`` bound to 127.0.0.1 with its own socket and pid file (as
root, with ``--user=root``: the files are root's, no other account is involved). A user with a
password gets every privilege, and matinee connects as it over TCP, as in production.

Tuned for tests, not for keeping data: the redo log is not flushed at each commit and the
doublewrite buffer is off, so a crash may lose everything - fine for a server deleted at the end.

MariaDB has no ``CREATE DATABASE ... TEMPLATE``; :meth:`MariaDbServer.create_database` with a
template copies every table's definition (``SHOW CREATE TABLE``, foreign keys included) and rows.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import pymysql
import pymysql.cursors
from pymysql.converters import escape_string

from matinee.testing.servers.process import LOOPBACK, ManagedProcess, ServerFailed, run_checked

log = logging.getLogger(__name__)

MARIADBD = Path("/usr/sbin/mariadbd")
INSTALL_DB = Path("/usr/bin/mariadb-install-db")
READY_SECONDS = 30.0

# One flag per setting: what it is for.
TEST_FLAGS = [
    f"--bind-address={LOOPBACK}",  # loopback only, never a public interface
    "--skip-name-resolve",  # accounts match by address; no DNS lookups per connection
    "--skip-log-bin",
    "--innodb-flush-log-at-trx-commit=0",  # tests never need the data after a crash
    "--innodb-doublewrite=0",
    "--innodb-buffer-pool-size=64M",
    "--max-connections=300",  # every test's Database holds a small pool for a while
    "--character-set-server=utf8mb4",
    "--lock-wait-timeout=30",  # DDL waiting on a metadata lock fails instead of hanging
]


class MariaDbServer:
    """A MariaDB server of its own on ``127.0.0.1:port`` with its files under ``root_dir``."""

    dialect: Literal["mysql"] = "mysql"

    def __init__(
        self,
        port: int,
        root_dir: Path,
        *,
        user: str = "matinee",
        password: str = "matinee-test",  # noqa: S107 - a throwaway server on loopback
    ) -> None:
        self.port = port
        self.root_dir = root_dir
        self.user = user
        self.password = password
        self.base = root_dir / "mariadb"
        self.socket = self.base / "mariadbd.sock"
        self._process: ManagedProcess | None = None
        self._admin: pymysql.connections.Connection[pymysql.cursors.Cursor] | None = None
        self._lock = threading.Lock()

    def url(self, dbname: str = "mysql") -> str:
        """``mysql://user:password@127.0.0.1:port/dbname``."""
        return f"mysql://{self.user}:{self.password}@{LOOPBACK}:{self.port}/{dbname}"

    def start(self, timeout: float = 60.0) -> None:
        """mariadb-install-db (first time only) and start the server; return once the test user
        can sign in."""
        if self._process is not None and self._process.running:
            return
        for binary in (MARIADBD, INSTALL_DB):
            if not binary.exists():
                raise ServerFailed(
                    f"MariaDB is not installed (no {binary}); run scripts/test-deps.sh, which "
                    "installs Debian's mariadb-server package"
                )
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> None:
        data = self.base / "data"
        as_root = ["--user=root"] if os.geteuid() == 0 else []
        if not (data / "mysql").exists():
            data.mkdir(parents=True, exist_ok=True)
            run_checked(
                [
                    str(INSTALL_DB),
                    "--no-defaults",  # ignore /etc/mysql: this server is configured here only
                    f"--datadir={data}",
                    *as_root,
                    "--auth-root-authentication-method=normal",  # root by socket, no password
                    "--skip-test-db",
                    "--skip-name-resolve",
                ],
                "mariadb-install-db",
            )
        argv = [
            str(MARIADBD),
            "--no-defaults",
            f"--datadir={data}",
            *as_root,
            f"--port={self.port}",
            f"--socket={self.socket}",
            f"--pid-file={self.base / 'mariadbd.pid'}",
            *TEST_FLAGS,
        ]
        self._process = ManagedProcess(
            "mariadbd", argv, self.port, log_path=self.root_dir / "mariadbd.log"
        )
        self._process.start(timeout)
        self._create_user(min(timeout, READY_SECONDS))

    def stop(self, *, keep_files: bool = False) -> None:
        """Stop the server and delete its files (unless ``keep_files``: then :meth:`start`
        brings the same databases back). Nothing is left running."""
        with self._lock:
            if self._admin is not None:
                self._admin.close()
                self._admin = None
        if self._process is not None:
            self._process.stop()
            self._process = None
        if not keep_files:
            shutil.rmtree(self.base, ignore_errors=True)

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create database ``name`` (with the tables and rows of ``template`` if given) and
        return its URL."""
        self.execute(f"CREATE DATABASE {_quote(name)} CHARACTER SET utf8mb4")
        if template is not None:
            self._copy_tables(template, name)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, first disconnecting whoever still uses it (an
        open transaction's metadata lock would make DROP wait)."""
        with self._lock:
            cur = self._cursor()
            cur.execute(
                "SELECT id FROM information_schema.processlist WHERE db = %s AND id <> "
                "CONNECTION_ID()",
                (name,),
            )
            for (thread_id,) in cur.fetchall():
                with contextlib.suppress(pymysql.err.OperationalError):  # it ended meanwhile
                    cur.execute(f"KILL CONNECTION {int(thread_id)}")
            cur.execute(f"DROP DATABASE IF EXISTS {_quote(name)}")

    def execute(self, statement: str, args: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement as root (autocommit) and return its rows."""
        with self._lock:
            cur = self._cursor()
            cur.execute(statement, args)
            return list(cur.fetchall())

    def __enter__(self) -> MariaDbServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _cursor(self) -> pymysql.cursors.Cursor:
        if self._admin is None or not self._admin.open:
            self._admin = pymysql.connect(
                unix_socket=str(self.socket), user="root", autocommit=True, connect_timeout=5
            )
        return self._admin.cursor()

    def _copy_tables(self, source: str, target: str) -> None:
        with self._lock:
            cur = self._cursor()
            cur.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = %s AND table_type = 'BASE TABLE'",
                (source,),
            )
            tables = [row[0] for row in cur.fetchall()]
            cur.execute("SET SESSION foreign_key_checks = 0")  # tables come in any order
            # A FULLTEXT index takes this setting when it is made, and SHOW CREATE TABLE does not
            # say it; matinee's (catalog, 0004) are made without a stopword list.
            cur.execute("SET SESSION innodb_ft_enable_stopword = OFF")
            try:
                cur.execute(f"USE {_quote(target)}")
                for table in tables:
                    cur.execute(f"SHOW CREATE TABLE {_quote(source)}.{_quote(table)}")
                    cur.execute(cur.fetchall()[0][1])
                    source_table = f"{_quote(source)}.{_quote(table)}"
                    # Quoted names, read from information_schema: no outside input.
                    copy = f"INSERT INTO {_quote(table)} SELECT * FROM {source_table}"  # noqa: S608
                    cur.execute(copy)
            finally:
                cur.execute("SET SESSION innodb_ft_enable_stopword = ON")
                cur.execute("SET SESSION foreign_key_checks = 1")
                cur.execute("USE mysql")

    def _create_user(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self._process is not None:
                self._process.check()  # exited (its port taken by someone else, say)
            try:
                self.execute(
                    f"CREATE USER IF NOT EXISTS {_account(self.user)} "
                    f"IDENTIFIED BY '{escape_string(self.password)}'"
                )
                break
            except pymysql.err.OperationalError as exc:
                if time.monotonic() > deadline:
                    tail = self._process.tail() if self._process is not None else ""
                    raise ServerFailed(
                        f"MariaDB on port {self.port} does not accept connections: {exc}. "
                        f"Its last output:\n{tail}"
                    ) from exc
                time.sleep(0.05)
        self.execute(f"GRANT ALL PRIVILEGES ON *.* TO {_account(self.user)} WITH GRANT OPTION")


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _account(user: str) -> str:
    return "'" + user.replace("'", "''") + "'@'%'"
