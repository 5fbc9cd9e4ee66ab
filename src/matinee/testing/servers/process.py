"""One server process on loopback, started and stopped the way DESIGN asks of every subprocess.

:class:`ManagedProcess` starts a server from an argument list (logged shell-quoted), waits until
its TCP port accepts a connection, and stops it with a polite signal, then SIGKILL, then a wait.
If the server exits or never listens, :class:`ServerFailed` says so in plain words with the last
lines the server wrote. Output goes to a log file (a pipe nobody reads would fill and block it).

The PostgreSQL, MariaDB, memcached and Cassandra helpers beside this module are built on it::

    with ManagedProcess("memcached", ["memcached", "-l", "127.0.0.1", "-p", "15910"], 15910) as p:
        ...  # p.port accepts connections here; the process is gone after the block
"""

from __future__ import annotations

import logging
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from matinee.errors import MatineeError
from matinee.procutil import die_with_parent

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
TAIL_LINES = 15


class ServerFailed(MatineeError):
    """A test server could not be started (or stopped); the message carries its last output."""


def fast_tmp_dir() -> Path:
    """A world-writable directory for throwaway server files: ``/dev/shm`` (memory, so no
    server waits on the disk, whatever else the machine is doing) when there is one, else the
    system's temporary directory."""
    shm = Path("/dev/shm")  # noqa: S108 - a place, not a predictable file name
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm
    return Path(tempfile.gettempdir())


OWNER_FILE = ".matinee-owner"


def private_dir(prefix: str) -> Path:
    """A new directory under :func:`fast_tmp_dir` for this process's server files, named
    ``<prefix>...``. Directories with that prefix left by a process that died before it could
    clean up (killed test runs; memory, when it is /dev/shm) are removed first."""
    base = fast_tmp_dir()
    for old in base.glob(f"{prefix}*"):
        _remove_if_orphaned(old)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    (path / OWNER_FILE).write_text(str(os.getpid()))
    return path


def _remove_if_orphaned(path: Path) -> None:
    try:
        owner = int((path / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return  # not ours to judge
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        log.info("removing %s, left behind by process %d", path, owner)
        shutil.rmtree(path, ignore_errors=True)
    except PermissionError:
        return  # alive, someone else's


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether nothing is bound to ``host:port`` right now."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pick_port(first: int, last: int, host: str = LOOPBACK) -> int:
    """The first port in ``first..last`` (inclusive) that nothing is bound to."""
    for port in range(first, last + 1):
        if port_is_free(port, host):
            return port
    raise ServerFailed(f"every port from {first} to {last} on {host} is taken")


def accepts(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """Whether a TCP connection to ``host:port`` succeeds."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True


class ManagedProcess:
    """A server process that listens on ``host:port``.

    ``user`` runs it as that OS user (root may switch to any user; PostgreSQL refuses to run as
    root). ``stop_signal`` is the polite signal :meth:`stop` sends first (PostgreSQL's "fast
    shutdown" is SIGINT; its SIGTERM waits for every client to disconnect). Output goes to
    ``log_path`` (a temporary file by default, removed by :meth:`stop`).
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        port: int,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        host: str = LOOPBACK,
        log_path: Path | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.argv = [str(a) for a in argv]
        self.port = port
        self.host = host
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.user = user
        self.stop_signal = stop_signal
        self._own_log = log_path is None
        self.log_path = log_path or Path(
            tempfile.mkstemp(prefix=f"matinee-{name}-", suffix=".log")[1]
        )
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 30.0) -> None:
        """Start the process and return once its port accepts connections.

        Raises :class:`ServerFailed` (after stopping it) if it exits first or does not listen
        within ``timeout`` seconds."""
        if self.running:
            return
        log.info("starting %s: %s", self.name, shlex.join(self.argv))
        uid, gid, groups = _as_user(self.user)
        with self.log_path.open("ab") as out:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,  # its own process group: stop() can kill helpers too
                preexec_fn=_preexec(),  # noqa: PLW1509 - only prctl(), safe before exec
                user=uid,
                group=gid,
                extra_groups=groups,
            )
        deadline = time.monotonic() + timeout
        while not accepts(self.port, self.host) or self._proc.poll() is not None:
            code = self._proc.poll()
            if code is not None:
                raise ServerFailed(
                    f"{self.name} exited with status {code} before it listened on "
                    f"{self.host}:{self.port}. Its last output:\n{self.tail()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise ServerFailed(
                    f"{self.name} did not listen on {self.host}:{self.port} within {timeout:.0f} s"
                    f". Its last output:\n{self.tail()}"
                )
            time.sleep(0.05)
        log.info("%s is listening on %s:%d (pid %d)", self.name, self.host, self.port, self.pid)

    def check(self) -> None:
        """Raise :class:`ServerFailed` with its last output if the process has exited."""
        code = self._proc.poll() if self._proc is not None else None
        if self._proc is None or code is not None:
            raise ServerFailed(
                f"{self.name} is not running (exit status {code}). Its last output:\n{self.tail()}"
            )

    def stop(self, timeout: float = 15.0) -> None:
        """Send the stop signal, then SIGKILL to its whole process group, then wait."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(self.stop_signal)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %.0f s; killing it", self.name, timeout)
                proc.kill()
                proc.wait()
        if proc is not None:
            _kill_group(proc.pid)  # anything it left behind in its group
        if self._own_log:
            self.log_path.unlink(missing_ok=True)

    def tail(self, lines: int = TAIL_LINES) -> str:
        """The last ``lines`` lines the process wrote (stdout and stderr together)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no output)"
        kept = text.strip().splitlines()[-lines:]
        return "\n".join(f"  {line}" for line in kept) or "  (no output)"

    def __enter__(self) -> ManagedProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _preexec() -> Callable[[], None] | None:
    # PR_SET_PDEATHSIG fires when the *thread* that started the child ends, so only ask for it
    # from the main thread (a server started from a worker thread would die with that thread).
    return die_with_parent if threading.current_thread() is threading.main_thread() else None


def _as_user(user: str | None) -> tuple[int | None, int | None, list[int] | None]:
    """Popen's ``user``, ``group`` and ``extra_groups`` to run the child as ``user`` with only
    that user's primary group (all ``None``: as ourselves)."""
    if user is None or pwd.getpwuid(os.geteuid()).pw_name == user:
        return None, None, None
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid, []


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return


def run_checked(argv: Sequence[str], what: str, *, user: str | None = None) -> None:
    """Run a short setup command (initdb, mariadb-install-db) to its end, or raise
    :class:`ServerFailed` with its last output."""
    args = [str(a) for a in argv]
    log.info("%s: %s", what, shlex.join(args))
    uid, gid, groups = _as_user(user)
    proc = subprocess.run(
        args,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        user=uid,
        group=gid,
        extra_groups=groups,
    )
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr).strip().splitlines()[-TAIL_LINES:]
        raise ServerFailed(
            f"{what} failed with status {proc.returncode} ({shlex.join(args)}). Its last output:\n"
            + "\n".join(f"  {line}" for line in out)
        )
