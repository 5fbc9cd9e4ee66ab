"""A CDN on this machine for the steering tests: the whole platform as a monolith served on a
real socket (from an event loop in a background thread, so Playwright's synchronous API can
share the test's thread), edge appliances as processes of their own (``python -m
matinee.cdn.edge``), and the nginx CDN tier (``matinee.cdn.thirdparty``). Ports 16500-16699.

The monolith's registry lives in its process, so the harness registers each edge there on its
behalf (as the platform does for the edges it starts); steering polls the edges' reports over
real sockets.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from matinee.cdn import thirdparty
from matinee.cdn.edge.registration import edge_instance
from matinee.db import upgrade
from matinee.discovery.config import DiscoveryConfig
from matinee.gateway.auth import Identity, identity_headers
from matinee.platform import Platform
from matinee.runtime.context import RuntimeConfig
from matinee.runtime.monolith import Monolith
from matinee.runtime.server import Server, ServerConfig
from matinee.runtime.transport import Response
from matinee.settings import Settings

T = TypeVar("T")
PORTS = (16500, 16699)
KEY = "steering-tests-url-signing-key-0001"
TIMEOUT_S = 60.0
_taken: set[int] = set()


def free_port() -> int:
    """A port of this suite's range that nothing listens on (random start: parallel runs)."""
    ports = [p for p in range(PORTS[0], PORTS[1] + 1) if p not in _taken]
    random.shuffle(ports)
    for port in ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _taken.add(port)
        return port
    raise RuntimeError("every port of 16500-16699 is taken")


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our URL
        return json.loads(response.read())


def wait_for(what: str, check: Callable[[], bool], timeout: float = 30.0) -> float:
    """Poll ``check`` until it is true; returns how long that took."""
    start = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - start
        except OSError:
            pass
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


@dataclass
class EdgeProcess:
    edge_id: str
    port: int
    root: Path
    region: str
    cluster: str
    capacity: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def report(self) -> dict[str, Any]:
        body: dict[str, Any] = get_json(self.url + "/edge/report")
        return body

    def held(self) -> set[str]:
        """Keys of the objects on this edge's disk."""
        base = self.root / "objects"
        return {str(p.relative_to(base)) for p in base.rglob("*") if p.is_file()}

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


@dataclass
class EdgeSpec:
    edge_id: str
    region: str = "local"
    cluster: str = "local-a"
    capacity: int = 50_000_000


@dataclass
class CdnPlatform:
    """See the module docstring. ``steering`` is the steering TOML's text."""

    root: Path
    edges: Sequence[EdgeSpec]
    steering: str = ""
    cdn: bool = True
    prepare: Callable[[Platform], None] | None = None
    front_port: int = field(default_factory=free_port)
    cdn_port: int = field(default_factory=free_port)
    running: dict[str, EdgeProcess] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.nginx: subprocess.Popen[bytes] | None = None
        self.monolith: Monolith | None = None
        self.server: Server | None = None

    @property
    def front(self) -> str:
        return f"http://127.0.0.1:{self.front_port}"

    @property
    def cdn_url(self) -> str:
        return f"http://127.0.0.1:{self.cdn_port}"

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=TIMEOUT_S)

    # -- start and stop -------------------------------------------------------------------

    def start(self) -> None:
        data = self.root / "data"
        config_path = self.root / "steering.toml"
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config_path.write_text(self.steering)
        settings = Settings(
            data_dir=data,
            port=self.front_port,
            cdn_port=self.cdn_port,
            steering_config=config_path,
            url_signing_key=KEY,
        )
        upgrade(settings.resolved_database_url)
        platform = Platform(settings, migrate=False)
        if self.prepare is not None:
            self.prepare(platform)
        if self.cdn:
            self._start_nginx()
        for spec in self.edges:
            self._start_edge(spec)
        fast = DiscoveryConfig(registry_fetch_interval=1)
        config = RuntimeConfig(url_signing_key=KEY.encode(), discovery=fast)
        self.thread.start()

        async def up() -> None:
            self.monolith = Monolith(settings, config, platform=platform)
            await self.monolith.start()
            self.server = Server(self.monolith, ServerConfig(port=self.front_port))
            await self.server.start()

        self.run(up())
        for edge in self.running.values():
            wait_for(f"{edge.edge_id} to answer", partial(_reports, edge), 30)
            self.register(edge)
        self.run(self._steering().runtime.ctx.discovery.refresh())

    def _start_nginx(self) -> None:
        tier = thirdparty.CdnTierConfig(
            root=self.root / "cdn", port=self.cdn_port, origins=(f"127.0.0.1:{self.front_port}",)
        )
        thirdparty.prepare(tier)
        with (self.root / "nginx.out").open("ab") as log:
            argv = thirdparty.nginx_argv(tier)
            self.nginx = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        wait_for("nginx", lambda: get_json_ok(self.cdn_url + "/readyz"), 10)

    def _start_edge(self, spec: EdgeSpec) -> None:
        port = free_port()
        edge = EdgeProcess(
            spec.edge_id, port, self.root / spec.edge_id, spec.region, spec.cluster, spec.capacity
        )
        peers = [
            e.url
            for e in self.running.values()
            if e.cluster == spec.cluster and e.region == spec.region
        ]
        argv = [sys.executable, "-m", "matinee.cdn.edge", "--port", str(port)]
        argv += ["--root", str(edge.root), "--capacity-bytes", str(spec.capacity)]
        argv += ["--cluster", spec.cluster, "--region", spec.region]
        argv += ["--origin", self.front, "--edge-id", spec.edge_id, "--log-level", "WARNING"]
        argv += ["--front", "nginx"]  # as a platform with nginx runs its edges (edge_front=auto)
        for peer in peers:
            argv += ["--peer", peer]
        env = {**os.environ, "MATINEE_URL_SIGNING_KEY": KEY, "MATINEE_DATA_DIR": str(edge.root)}
        with (self.root / f"{spec.edge_id}.out").open("ab") as log:
            edge.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.running[spec.edge_id] = edge

    def register(self, edge: EdgeProcess) -> None:
        """Register ``edge`` with the monolith's registry, as app ``edge``."""
        info = edge_instance(
            edge.edge_id, "127.0.0.1", edge.port, region=edge.region, cluster=edge.cluster
        )
        body = json.dumps({"instance": info.to_json()}).encode()
        answer = self.call_instance("registry", "POST", "/eureka/apps/EDGE", body)
        assert answer.status in (200, 204), answer.text

    def stop(self) -> None:
        for edge in self.running.values():
            if edge.process is not None and edge.process.poll() is None:
                edge.process.terminate()
        for edge in self.running.values():
            if edge.process is not None:
                try:
                    edge.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    edge.process.kill()
                    edge.process.wait()
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.terminate()
            self.nginx.wait(timeout=10)

        async def down() -> None:
            if self.server is not None:
                await self.server.stop()
            if self.monolith is not None:
                await self.monolith.leave()
                await self.monolith.stop()

        if self.thread.is_alive():
            try:
                self.run(down())
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self.thread.join(timeout=10)
                self.loop.close()

    # -- calls ----------------------------------------------------------------------------

    def _steering(self) -> Any:
        assert self.monolith is not None
        return self.monolith.instance("steering")

    def call_instance(
        self,
        service: str,
        method: str,
        path: str,
        body: bytes = b"",
        identity: Identity | None = None,
    ) -> Response:
        """One request straight to ``service``'s instance (no gateway)."""
        assert self.monolith is not None
        monolith = self.monolith
        headers = [("content-type", "application/json")]
        if identity is not None:
            key = monolith.config.identity_key
            assert key is not None
            headers += identity_headers(identity, key, time.time())
        url = f"http://{service}-1.local{path}"
        return self.run(monolith.transport.request(method, url, headers, body, TIMEOUT_S))

    def json_call(
        self, service: str, method: str, path: str, body: object = None, **kw: Any
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else b""
        answer = self.call_instance(service, method, path, data, **kw)
        assert answer.status < 300, f"{method} {path}: {answer.status} {answer.text}"
        return answer.json()

    def rank(
        self, title_id: str, prefix: str, client_ip: str = "127.0.0.1"
    ) -> list[dict[str, Any]]:
        body = {
            "client_ip": client_ip,
            "title_id": title_id,
            "prefix": prefix,
            "origin": self.front,
        }
        hosts: list[dict[str, Any]] = self.json_call(
            "steering", "POST", "/internal/steering/rank", body
        )["hosts"]
        return hosts

    def __enter__(self) -> CdnPlatform:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _reports(edge: EdgeProcess) -> bool:
    return bool(edge.report())


def get_json_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our URL
        return bool(response.status == 200)
