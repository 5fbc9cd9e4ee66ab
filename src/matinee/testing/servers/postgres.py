"""A throwaway PostgreSQL server on loopback, from Debian's packages, for tests and benchmarks.

:class:`PostgresServer` runs ``initdb`` into a fresh directory and starts ``postgres`` listening
on 127.0.0.1 only (its unix socket in its own directory), with one superuser that signs in with a
password over TCP, the way matinee connects in production. PostgreSQL refuses to run as root, so
as root both run as the ``postgres`` OS user and the cluster lives in a private directory owned
by it (pytest's temporary directories are closed to other users).

It is tuned for tests, not for keeping data: ``fsync=off``, ``synchronous_commit=off`` and
``full_page_writes=off`` make commits and ``CREATE DATABASE`` cheap, and a crash may lose
everything - which is fine for a cluster deleted at the end of the run.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import signal
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Literal

import psycopg
from psycopg import sql

from matinee.testing.servers.process import (
    LOOPBACK,
    ManagedProcess,
    ServerFailed,
    private_dir,
    run_checked,
)

log = logging.getLogger(__name__)

DEBIAN_ROOT = Path("/usr/lib/postgresql")
OS_USER = "postgres"
READY_SECONDS = 30.0
TEMPLATE_BUSY_SECONDS = 5.0

# One -c per setting: what it is for.
TEST_SETTINGS = {
    "listen_addresses": LOOPBACK,  # loopback only, never a public interface
    "fsync": "off",  # tests never need the data after a crash; makes commits and DDL cheap
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",  # every test's Database holds a small pool for a while
    "shared_buffers": "64MB",
    "log_min_messages": "warning",
    "log_checkpoints": "off",
}


def find_binaries() -> Path:
    """Debian's ``/usr/lib/postgresql/<version>/bin`` of the newest installed version."""
    versions = sorted(
        (p for p in DEBIAN_ROOT.glob("*/bin") if (p / "postgres").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not versions:
        raise ServerFailed(
            f"PostgreSQL is not installed (no {DEBIAN_ROOT}/<version>/bin/postgres); "
            "run scripts/test-deps.sh, which installs Debian's postgresql package"
        )
    return versions[-1]


class PostgresServer:
    """A PostgreSQL cluster of its own on ``127.0.0.1:port``; files under ``root_dir``
    (or, as root, in a private temporary directory owned by ``postgres``)."""

    dialect: Literal["postgresql"] = "postgresql"

    def __init__(
        self,
        port: int,
        root_dir: Path,
        *,
        user: str = "matinee",
        password: str = "matinee-test",  # noqa: S107 - a throwaway cluster on loopback
    ) -> None:
        self.port = port
        self.root_dir = root_dir
        self.user = user
        self.password = password
        self._os_user = OS_USER if os.geteuid() == 0 else None
        self._base: Path | None = None
        self._process: ManagedProcess | None = None
        self._admin: psycopg.Connection[tuple[object, ...]] | None = None
        self._lock = threading.Lock()

    def url(self, dbname: str = "postgres") -> str:
        """``postgresql://user:password@127.0.0.1:port/dbname``."""
        return f"postgresql://{self.user}:{self.password}@{LOOPBACK}:{self.port}/{dbname}"

    def start(self, timeout: float = 60.0) -> None:
        """initdb (first time only) and start the server; return once it accepts sign-ins."""
        if self._process is not None and self._process.running:
            return
        bin_dir = find_binaries()
        try:
            self._start(bin_dir, timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, bin_dir: Path, timeout: float) -> None:
        base = self._base or self._make_base()
        self._base = base
        data = base / "data"
        if not (data / "PG_VERSION").exists():
            self._initdb(bin_dir, base, data)
        run = base / "run"
        run.mkdir(exist_ok=True)
        self._chown(run)
        settings = {**TEST_SETTINGS, "port": str(self.port), "unix_socket_directories": str(run)}
        argv = [str(bin_dir / "postgres"), "-D", str(data)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        self.root_dir.mkdir(parents=True, exist_ok=True)
        self._process = ManagedProcess(
            "postgres",
            argv,
            self.port,
            user=self._os_user,
            log_path=self.root_dir / "postgres.log",
            stop_signal=signal.SIGINT,  # fast shutdown: disconnect clients (SIGTERM waits)
        )
        self._process.start(timeout)
        self._wait_for_sign_in(min(timeout, READY_SECONDS))

    def stop(self, *, keep_files: bool = False) -> None:
        """Stop the server and delete the cluster (unless ``keep_files``: then :meth:`start`
        brings the same cluster back). Nothing is left running."""
        with self._lock:
            if self._admin is not None:
                self._admin.close()
                self._admin = None
        if self._process is not None:
            self._process.stop()
            self._process = None
        if self._base is not None and not keep_files:
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = None

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create database ``name`` (a copy of ``template`` if given, which must have no open
        connections) and return its URL."""
        stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            stmt = sql.SQL("{} TEMPLATE {}").format(stmt, sql.Identifier(template))
        deadline = time.monotonic() + TEMPLATE_BUSY_SECONDS
        while True:
            try:
                self.execute(stmt)
            except psycopg.errors.ObjectInUse:
                # "source database is being accessed by other users": a pool that used the
                # template may take a moment to let go.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            else:
                return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, disconnecting whoever is still connected."""
        self.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

    def execute(self, statement: sql.Composed | sql.SQL | str) -> None:
        """Run one statement as the superuser on the ``postgres`` database (autocommit)."""
        query = sql.SQL(statement) if isinstance(statement, str) else statement
        with self._lock:
            if self._admin is None or self._admin.closed:
                self._admin = psycopg.connect(self.url(), autocommit=True, connect_timeout=5)
            try:
                self._admin.execute(query)
            except psycopg.OperationalError:
                self._admin.close()
                self._admin = None
                raise

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _make_base(self) -> Path:
        if self._os_user is None:
            base = self.root_dir / "postgres"
            base.mkdir(parents=True, exist_ok=True)
            return base
        base = private_dir("matinee-postgres-")
        self._chown(base)
        return base

    def _chown(self, path: Path) -> None:
        if self._os_user is not None:
            entry = pwd.getpwnam(self._os_user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _initdb(self, bin_dir: Path, base: Path, data: Path) -> None:
        pwfile = base / "pwfile"
        pwfile.write_text(self.password + "\n")
        self._chown(pwfile)
        try:
            run_checked(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    f"--username={self.user}",
                    f"--pwfile={pwfile}",
                    "--auth-local=trust",  # the unix socket sits in a directory only we can enter
                    "--auth-host=scram-sha-256",  # TCP sign-ins need the password
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",  # a test cluster: do not wait for the disk
                    "--no-instructions",
                ],
                "initdb",
                user=self._os_user,
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _wait_for_sign_in(self, timeout: float) -> None:
        # The port opens before recovery ends ("the database system is starting up").
        deadline = time.monotonic() + timeout
        while True:
            if self._process is not None:
                self._process.check()  # exited (its port taken by someone else, say)
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    tail = self._process.tail() if self._process is not None else ""
                    raise ServerFailed(
                        f"PostgreSQL on port {self.port} does not accept sign-ins: {exc}. "
                        f"Its last output:\n{tail}"
                    ) from exc
                time.sleep(0.05)
            else:
                return
