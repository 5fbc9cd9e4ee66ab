"""A real delivery stack on loopback: a registry, the origin (a media instance) and edge
processes (``python -m matinee.cdn.edge``), each its own OS process on a port of 16200-16399.

Discovery durations are shrunk, so edges find the origin and each other within a second. Every
process shares one URL-signing key (``MATINEE_URL_SIGNING_KEY``), as a fleet shares its key file.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from matinee.clock import SystemClock
from matinee.delivery.tokens import Claims, UrlSigner

KEY = "integration-signing-key-0123456789"
DISCOVERY = {
    "renewal_interval": 0.5,
    "registry_fetch_interval": 0.5,
    "lease_duration": 2,
    "eviction_interval": 0.5,
    "self_preservation": False,
    "request_timeout": 1,
}
PORTS = (16200, 16399)
START_SECONDS = 90.0  # a loaded 2-core machine starts a Python process in seconds
JSON = {"accept": "application/json"}


def free_port(taken: set[int]) -> int:
    ports = list(range(PORTS[0], PORTS[1] + 1))
    random.shuffle(ports)
    for port in ports:
        if port in taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port
    raise RuntimeError("every port of 16200-16399 is taken")


def token(prefix: str = "media/assets/t1/", ttl: float = 600, **claims: Any) -> str:
    signer = UrlSigner(KEY.encode(), SystemClock())
    return signer.sign(Claims(prefix, int(time.time() + ttl), **claims))


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    base: str, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> Answer:
    """One request with ``path`` sent byte for byte (no normalisation of dots or escapes)."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def wait_for(what: str, check: Callable[[], bool], timeout: float = START_SECONDS) -> float:
    start = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - start
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            pass
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.05)


@dataclass
class Stack:
    """The processes of one test; :meth:`close` kills whatever is left."""

    tmp: Path
    taken: set[int] = field(default_factory=set)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "MATINEE_DATA_DIR": str(self.tmp / "data"),
            "MATINEE_URL_SIGNING_KEY": KEY,
            "MATINEE_LOG_LEVEL": "WARNING",
        }

    @property
    def registry(self) -> str:
        return f"{self.urls['registry']}/eureka"

    def _spawn(self, name: str, argv: list[str]) -> None:
        with (self.tmp / f"{name}.log").open("wb") as log:
            self.procs[name] = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env=self.env
            )

    def instance(self, service: str) -> str:
        port = free_port(self.taken)
        argv = [sys.executable, "-m", "matinee.runtime.instance", "--service", service]
        argv += ["--port", str(port), "--instance-id", f"{service}-0"]
        argv += ["--discovery-json", json.dumps(DISCOVERY), "--log-level", "WARNING"]
        if service != "registry":
            argv += ["--registry-url", self.registry]
        self._spawn(service, argv)
        self.urls[service] = f"http://127.0.0.1:{port}"
        return self.urls[service]

    def edge(
        self,
        name: str,
        *,
        cluster: str = "c1",
        capacity: int = 100_000_000,
        registry: bool = True,
        origin: str | None = None,
        front: str = "python",
    ) -> str:
        port = free_port(self.taken)
        argv = [sys.executable, "-m", "matinee.cdn.edge", "--port", str(port), "--front", front]
        if front == "nginx":
            argv += ["--backend-port", str(free_port(self.taken))]
        argv += ["--root", str(self.tmp / "edges" / name), "--capacity-bytes", str(capacity)]
        argv += ["--cluster", cluster, "--region", "r1", "--instance-id", name]
        argv += ["--discovery-json", json.dumps(DISCOVERY), "--log-level", "WARNING"]
        if registry:
            argv += ["--registry-url", self.registry]
        if origin is not None:
            argv += ["--origin", origin]
        self._spawn(name, argv)
        self.urls[name] = f"http://127.0.0.1:{port}"
        return self.urls[name]

    def ready(self, name: str, path: str = "/readyz") -> None:
        proc = self.procs[name]

        def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{self.log(name)}")
            return request(self.urls[name], path).status == 200

        wait_for(f"{name} ready", up)

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def terminate(self, name: str) -> int:
        proc = self.procs[name]
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=20)

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def close(self, names: list[str] | None = None) -> None:
        """Stop ``names`` (default: every process), printing the tail of each one's log."""
        chosen = {n: p for n, p in self.procs.items() if names is None or n in names}
        for proc in chosen.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in chosen.items():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            print(f"--- {name} (exit {proc.returncode}) ---\n{self.log(name)[-2000:]}")

    def origin_fetches(self) -> float:
        """How many unsigned object GETs the origin has answered (what edges fill with)."""
        text = request(self.urls["media"], "/metrics").body.decode()
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = sample.labels
                if (
                    sample.name == "ipc_server_call_seconds_count"
                    and labels.get("route") == "/media/{key:path}"
                ):
                    total += sample.value
        return total

    def edges_registered(self, cluster: str) -> dict[str, dict[str, str]]:
        """The metadata of every edge of ``cluster`` in the registry, by instance id."""
        answer = request(self.urls["registry"], "/eureka/apps/EDGE", "GET", JSON)
        if answer.status == 404:
            return {}
        found = answer.json()["application"]["instance"]
        return {
            i["instanceId"]: i["metadata"]
            for i in (found if isinstance(found, list) else [found])
            if i["metadata"].get("cluster") == cluster
        }
