"""Real memcached servers (Debian's ``memcached``) on loopback, for the cache tests and benchmark.

:class:`MemcachedProcess` is one server; :class:`MemcachedZones` starts zones of them on ports
picked from 15910-15919 and gives the ``memcached://`` URL that reaches them::

    with MemcachedZones({"zone-a": 2, "zone-b": 2}) as zones:
        cache = open_cache(zones.url(latch="one"), name="t", zone="zone-a")
        zones.kill("zone-a", 0)   # chaos: SIGKILL one server
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Mapping
from types import TracebackType

from matinee.testing.servers.process import LOOPBACK, ManagedProcess, ServerFailed, pick_port

FIRST_PORT = 15910
LAST_PORT = 15919


def memcached_binary() -> str:
    # /usr/bin is where Debian puts it; PATH may lack it when tests run with a bare environment
    path = shutil.which("memcached") or shutil.which("memcached", path="/usr/bin")
    if path is None:
        raise ServerFailed(
            "memcached is not installed; run scripts/test-deps.sh (it installs Debian's memcached)"
        )
    return path


class MemcachedProcess:
    """One memcached server on ``host:port`` with ``memory_mb`` of item memory."""

    def __init__(self, port: int, *, memory_mb: int = 64, threads: int = 2) -> None:
        self.port = port
        self.host = LOOPBACK
        argv = [
            memcached_binary(),
            "-l", self.host,
            "-p", str(port),
            "-U", "0",  # no UDP listener
            "-m", str(memory_mb),
            "-t", str(threads),
            "-c", "1024",  # connections
        ]  # fmt: skip
        if os.geteuid() == 0:
            argv += ["-u", "root"]  # memcached refuses to run as root unless told which user
        self._process = ManagedProcess(f"memcached-{port}", argv, port)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process.running

    def start(self) -> None:
        self._process.start(timeout=15.0)

    def stop(self) -> None:
        """SIGTERM (memcached exits at once), then SIGKILL if needed, then wait."""
        self._process.stop_signal = signal.SIGTERM
        self._process.stop(timeout=5.0)

    def kill(self) -> None:
        """Die the hard way, as a crashed server would (SIGKILL)."""
        self._process.stop_signal = signal.SIGKILL
        self._process.stop(timeout=5.0)

    def __enter__(self) -> MemcachedProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class MemcachedZones:
    """Zones of memcached servers: ``{"zone-a": 2, "zone-b": 2}`` starts four."""

    def __init__(
        self,
        zones: Mapping[str, int],
        *,
        memory_mb: int = 64,
        first_port: int = FIRST_PORT,
        last_port: int = LAST_PORT,
    ) -> None:
        self.layout = dict(zones)
        self._memory_mb = memory_mb
        self._ports = (first_port, last_port)
        self.servers: dict[str, list[MemcachedProcess]] = {}

    def start(self) -> None:
        try:
            for zone, count in self.layout.items():
                started = self.servers.setdefault(zone, [])
                for _ in range(count):
                    # each server starts before the next port is picked, so picks never collide
                    server = MemcachedProcess(pick_port(*self._ports), memory_mb=self._memory_mb)
                    server.start()
                    started.append(server)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for servers in self.servers.values():
            for server in servers:
                server.stop()
        self.servers = {}

    def kill(self, zone: str, index: int) -> MemcachedProcess:
        server = self.servers[zone][index]
        server.kill()
        return server

    def url(self, **options: str) -> str:
        """``memcached://zone=h:p,h:p;zone=...`` with ``options`` as the query string."""
        zones = ";".join(
            f"{zone}=" + ",".join(s.address for s in servers)
            for zone, servers in self.servers.items()
        )
        query = "&".join(f"{key}={value}" for key, value in options.items())
        return f"memcached://{zones}" + (f"?{query}" if query else "")

    def __enter__(self) -> MemcachedZones:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
