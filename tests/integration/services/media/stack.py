"""What the media upload tests serve and drive: a monolith (registry, identity, media,
gateway) on a free port of 127.0.0.1 under uvicorn, an administrator's session, a TCP proxy
that drops a connection once (a network that fails mid-upload), and tus-js-client under Node."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from matinee.clock import SystemClock
from matinee.db.aio import Database
from matinee.gateway.config import GatewayConfig, RateLimitConfig
from matinee.gateway.shedding import SheddingConfig
from matinee.platform import Platform
from matinee.resilience.dependency import DependencyConfig
from matinee.runtime.context import RuntimeConfig
from matinee.runtime.monolith import Monolith
from matinee.services import gateway, media, registry
from matinee.services.identity import create_admin, make_spec
from matinee.services.identity.config import HashingConfig, IdentityConfig
from matinee.testing.discovery import ThreadedServer

ROOT = Path(__file__).resolve().parents[4]
WEB_APP = ROOT / "web" / "app"
DRIVER = Path(__file__).with_name("tus_upload.cjs")
ADMIN_EMAIL = "ops@example.com"
PASSWORD = "correct horse battery"
CHEAP = IdentityConfig(hashing=HashingConfig(memory_kib=64, time_cost=1, parallelism=1))
TUS = {"Tus-Resumable": "1.0.0"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def add_admin(platform: Platform) -> None:
    async def main() -> None:
        db = Database(platform.settings.resolved_database_url)
        try:
            await create_admin(
                db, SystemClock(), ADMIN_EMAIL, PASSWORD, config=CHEAP, exist_ok=True
            )
        finally:
            await db.close()

    asyncio.run(main())


def monolith(platform: Platform) -> Monolith:
    front = GatewayConfig(
        shedding=SheddingConfig(enabled=False), rate_limit=RateLimitConfig(enabled=False)
    )
    slack = DependencyConfig(timeout_s=15.0)  # two shared cores, busy with other tests
    config = RuntimeConfig(gateway=front, dependencies={"identity": slack, "media": slack})
    specs = [registry.SPEC, make_spec(CHEAP), media.SPEC, gateway.SPEC]
    return Monolith(platform.settings, config, services=specs, platform=platform)


@contextlib.contextmanager
def served(platform: Platform) -> Iterator[str]:
    """The monolith over ``platform`` at ``http://127.0.0.1:<free port>`` until the block ends."""
    with ThreadedServer(monolith(platform), free_port(), start_seconds=30) as server:
        yield server.url


def session(base: str) -> str:
    """The administrator's session token, signed in through the gateway."""
    body = {"email": ADMIN_EMAIL, "password": PASSWORD}
    answer = httpx.post(f"{base}/api/identity/signin", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    token = answer.cookies.get("matinee_session")
    assert token
    return str(token)


def tus_client(options: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
    """Run tus-js-client with ``options`` (see tus_upload.cjs); its report."""
    node = shutil.which("node")
    assert node, "Node.js is needed to run tus-js-client: install nodejs"
    assert (WEB_APP / "node_modules" / "tus-js-client").is_dir(), (
        "tus-js-client is not installed: run `cd web/app && npm ci`"
    )
    done = subprocess.run(
        [node, str(DRIVER), str(WEB_APP), json.dumps(options)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, f"tus-js-client printed nothing: {done.stderr}"
    report: dict[str, Any] = json.loads(lines[-1])
    return report


class Cutter:
    """A TCP proxy to ``upstream`` that drops the connection carrying client byte
    ``cut_after`` (counted over all connections), once; later connections pass untouched."""

    def __init__(self, upstream: int, cut_after: int) -> None:
        self.upstream = upstream
        self.cut_after = cut_after
        self.sent = 0
        self.cuts = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._open: list[socket.socket] = []
        self._closing = False

    def __enter__(self) -> Cutter:
        threading.Thread(target=self._accept, name="cutter", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing = True
        self._listener.close()
        for s in self._open:
            with contextlib.suppress(OSError):
                s.close()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            self._open += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, upward: bool) -> None:
        try:
            while data := source.recv(65536):
                if upward and self._cut_here(len(data)):
                    for s in (source, sink):
                        with contextlib.suppress(OSError):
                            s.shutdown(socket.SHUT_RDWR)
                    return
                sink.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def _cut_here(self, size: int) -> bool:
        with self._lock:
            before, self.sent = self.sent, self.sent + size
            if self.cuts == 0 and before < self.cut_after <= self.sent:
                self.cuts += 1
                return True
            return False
