"""A real local fleet for the proof tests: ``matinee up --topology fleet`` as a subprocess.

:class:`Fleet` starts it on free ports in a temporary data directory, with a runtime TOML that
shrinks every discovery duration, and with failure injection on. It reads the supervisor's
state file to find instances (and their pids), and talks to them over real sockets.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from matinee.fleet.supervisor import InstanceRecord, read_state
from matinee.fleet.up import probe

START_SECONDS = 120.0
STOP_SECONDS = 30.0
MATINEE = str(Path(sys.executable).with_name("matinee"))

# Discovery shrunk so the fleet notices changes in about a second; the gateway neither rate
# limits nor caps concurrency below what the tests offer.
RUNTIME_TOML = """
[discovery]
renewal_interval = 1
lease_duration = 3
registry_fetch_interval = 1
eviction_interval = 1
self_preservation = false
request_timeout = 1

[default_dependency]
timeout_s = 4.0
max_concurrent = 200

[limit]
enabled = false

[gateway.rate_limit]
enabled = false

[gateway.shedding]
max_inflight = {max_inflight}
target_latency = 2.0

[[gateway.routes]]
prefix = "/"
service = "media"
priority = 60

[[gateway.routes]]
prefix = "/critical"
name = "critical"
service = "media"
strip_prefix = true
priority = 100

[[gateway.routes]]
prefix = "/prefetch"
name = "prefetch"
service = "media"
strip_prefix = true
priority = 20

[[gateway.routes]]
prefix = "/guarded"
name = "guarded"
service = "media"
strip_prefix = true
fallback = {{ kind = "static", body = {{ assets = [], fallback = true }} }}
"""
MAX_INFLIGHT = 16


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_ports(count: int, taken: set[int]) -> int:
    """The first of ``count`` consecutive ports nothing listens on (and not in ``taken``).

    They lie below the kernel's ephemeral range, so no outgoing connection of another process
    can take one between this check and the instance binding it."""
    rng = random.Random()
    top = _ephemeral_start() - count
    if top <= 20000:  # an unusual kernel setting: any port will have to do
        top = 65536 - count
    for _ in range(500):
        first = rng.randrange(20000, top)
        wanted = range(first, first + count)
        if not taken & set(wanted) and all(map(_bindable, wanted)):
            taken.update(wanted)
            return first
    raise RuntimeError(f"found no {count} consecutive free ports")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(port: int, method: str, path: str, body: object = None, timeout: float = 5.0) -> Answer:
    """One request to 127.0.0.1:``port`` (a fresh connection; never pooled)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        headers = {"content-type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def metric(port: int, name: str, **labels: str) -> float:
    """The sum of every sample called ``name`` whose labels include ``labels``."""
    text = request(port, "GET", "/metrics").body.decode()
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def wait_for(what: str, check: Callable[[], bool], timeout: float, interval: float = 0.1) -> float:
    """Poll ``check`` until it holds; how long that took. Fails after ``timeout`` seconds."""
    start = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - start
        except (OSError, http.client.HTTPException):
            pass
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        time.sleep(interval)


@dataclass
class Fleet:
    """``matinee up --topology fleet`` running in its own session (process group)."""

    root: Path
    replicas: int = 2
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    gateway_port: int = 0
    registry_port: int = 0
    base_port: int = 0

    def __post_init__(self) -> None:
        taken: set[int] = set()
        self.gateway_port = free_ports(self.replicas, taken)
        self.registry_port = free_ports(2, taken)
        self.base_port = free_ports(self.replicas, taken)
        config = self.root / "runtime.toml"
        config.write_text(RUNTIME_TOML.format(max_inflight=MAX_INFLIGHT))
        self.env = {
            **os.environ,
            "MATINEE_DATA_DIR": str(self.root / "data"),
            "MATINEE_PORT": str(self.gateway_port),
            "MATINEE_REGISTRY_PORT": str(self.registry_port),
            "MATINEE_REGISTRY_PEERS": "2",
            "MATINEE_BASE_PORT": str(self.base_port),
            "MATINEE_RUNTIME_CONFIG": str(config),
            "MATINEE_FAULT_INJECTION": "true",
            "MATINEE_DRAIN_TIMEOUT": "2",
            "MATINEE_LOG_LEVEL": "WARNING",
            "MATINEE_SERVICES": "media",  # the proofs need one service behind the gateways
            "MATINEE_EDGES": "0",  # and no CDN edges (tests/integration/cdn runs those)
        }

    @property
    def state_path(self) -> Path:
        return self.root / "data" / "run" / "fleet.json"

    @property
    def gateways(self) -> list[int]:
        return [self.gateway_port + i for i in range(self.replicas)]

    def start(self, *args: str) -> None:
        argv = [MATINEE, "up", "--topology", "fleet", "--replicas", str(self.replicas), *args]
        with (self.root / "up.log").open("wb") as out:
            self.proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )

    def wait_ready(self, timeout: float = START_SECONDS) -> float:
        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"matinee up exited early:\n{self.output()}")
            records = self.records()
            if len(records) != 2 + 2 * self.replicas:
                return False
            return all(probe(r).health == "ready" for r in records)

        took = wait_for("the fleet starting", ready, timeout, interval=0.25)
        # The gateways route to media as soon as their discovery cache has it.
        for port in self.gateways:
            self._wait_routing(port, 30)
        return took

    def settle(self, timeout: float = 30.0) -> None:
        """Back to a healthy fleet before a test: every instance ready, no fault in force, both
        gateways routing."""
        wait_for(
            "every instance ready",
            lambda: all(probe(r).health == "ready" for r in self.records()),
            timeout,
        )
        for service in ("media", "gateway"):
            self.clear_faults(service)
        for port in self.gateways:
            self._wait_routing(port, timeout)

    def _wait_routing(self, port: int, timeout: float) -> None:
        wait_for(f"gateway :{port} routing", lambda: self.get(port).status == 200, timeout)

    def run(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """Run another ``matinee`` command against this fleet; its output."""
        done = subprocess.run(
            [MATINEE, *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return done.stdout + done.stderr

    def get(self, port: int, path: str = "/api/assets") -> Answer:
        return request(port, "GET", path)

    def records(self) -> list[InstanceRecord]:
        return read_state(self.state_path)

    def record(self, service: str, slot: int) -> InstanceRecord:
        for r in self.records():
            if r.service == service and r.slot == slot:
                return r
        raise KeyError(f"{service}-{slot}")

    def instances(self, service: str) -> list[InstanceRecord]:
        return [r for r in self.records() if r.service == service]

    def fault(self, service: str, **fault: object) -> None:
        """Inject ``fault`` into every instance of ``service``."""
        for r in self.instances(service):
            answer = request(r.port, "PUT", "/faults", fault)
            assert answer.status == 200, answer.body

    def clear_faults(self, service: str) -> None:
        for r in self.instances(service):
            answer = request(r.port, "DELETE", "/faults")
            assert answer.status == 200, (r.instance_id, answer)

    def output(self) -> str:
        return (self.root / "up.log").read_text(errors="replace")

    def log(self, name: str) -> str:
        path = self.root / "data" / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def interrupt(self, timeout: float = STOP_SECONDS) -> int:
        """Ctrl-C as a terminal sends it: SIGINT to the whole process group; the exit code."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGINT)
        return self.proc.wait(timeout=timeout)

    def kill_all(self) -> None:
        """Last resort after a failed test: nothing of this fleet may outlive it."""
        pids = [r.pid for r in self.records() if r.pid]
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for pid in pids:
            if alive(pid) and b"matinee.runtime.instance" in _cmdline(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    """Is process ``pid`` still running (and not a zombie)?"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""
