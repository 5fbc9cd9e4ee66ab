"""``matinee up`` starts the CDN's edges beside the platform, in both topologies, and so does
``matinee serve`` (the monolith ``make run`` serves after seeding): they fill from the origin
and from each other, a killed edge is replaced with its disk intact, ``matinee
status`` lists them, and Ctrl-C stops them with the platform."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from matinee.fleet.supervisor import InstanceRecord, read_state
from matinee.fleet.up import probe
from matinee.platform import Platform
from matinee.settings import Settings

from .harness import KEY, PORTS, free_port, request, token, wait_for

MATINEE = str(Path(sys.executable).with_name("matinee"))
SEGMENT = os.urandom(250_000)
KEY_PATH = "media/assets/u1/video/720p/00001.m4s"


def consecutive(count: int, taken: set[int]) -> int:
    """The first of ``count`` consecutive free ports of this suite's range."""
    rng = random.Random()
    for _ in range(500):
        first = rng.randrange(PORTS[0], PORTS[1] - count + 2)
        wanted = set(range(first, first + count))
        if not wanted & taken and all(map(_bindable, wanted)):
            taken.update(wanted)
            return first
    raise RuntimeError(f"found no {count} consecutive free ports")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Up:
    """``matinee up`` in its own session, on ports of 16200-16399."""

    def __init__(self, root: Path, topology: str) -> None:
        self.root = root
        taken: set[int] = set()
        self.port = free_port(taken)
        self.edge_port = consecutive(2, taken)
        self.env = {
            **os.environ,
            "MATINEE_DATA_DIR": str(root / "data"),
            "MATINEE_PORT": str(self.port),
            "MATINEE_EDGES": "2",
            "MATINEE_EDGE_BASE_PORT": str(self.edge_port),
            "MATINEE_EDGE_CAPACITY_MB": "10",
            "MATINEE_URL_SIGNING_KEY": KEY,
            "MATINEE_LOG_LEVEL": "WARNING",
            "MATINEE_CDN_PORT": "0",  # no third-party CDN tier here
        }
        if topology == "fleet":
            self.env["MATINEE_REGISTRY_PORT"] = str(consecutive(2, taken))
            self.env["MATINEE_BASE_PORT"] = str(consecutive(1, taken))
            self.env["MATINEE_SERVICES"] = "media"
            self.env["MATINEE_REPLICAS"] = "1"
            config = root / "runtime.toml"
            config.write_text(
                "[discovery]\nrenewal_interval = 1\nlease_duration = 3\n"
                "registry_fetch_interval = 1\neviction_interval = 1\n"
                "self_preservation = false\n\n[gateway.rate_limit]\nenabled = false\n"
            )
            self.env["MATINEE_RUNTIME_CONFIG"] = str(config)
        self.topology = topology
        platform = Platform(Settings(data_dir=root / "data"))
        platform.objects.put_bytes(KEY_PATH.removeprefix("media/"), SEGMENT)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def edges(self) -> list[str]:
        return [f"http://127.0.0.1:{self.edge_port + i}" for i in range(2)]

    def start(self) -> None:
        with (self.root / "up.log").open("wb") as out:
            command = ["serve"] if self.topology == "serve" else ["up", "--topology", self.topology]
            self.proc = subprocess.Popen(
                [MATINEE, *command],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )

    def output(self) -> str:
        return (self.root / "up.log").read_text(errors="replace")

    def status(self) -> str:
        done = subprocess.run(
            [MATINEE, "status"], env=self.env, capture_output=True, text=True, check=False
        )
        return done.stdout + done.stderr

    def edge_records(self) -> list[str]:
        return [r.instance_id for r in _edges(self)]

    def stop(self) -> int:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGINT)
        return self.proc.wait(timeout=60)

    def kill_all(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture(params=["monolith", "fleet", "serve"])
def up(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Up]:
    running = Up(tmp_path, request.param)
    running.start()
    try:
        yield running
    finally:
        running.kill_all()
        print(running.output()[-4000:])


def test_up_runs_two_edges_that_fill_register_and_stop_with_it(up: Up) -> None:
    def ready() -> bool:
        if up.proc is not None and up.proc.poll() is not None:
            raise AssertionError(f"matinee up exited:\n{up.output()}")
        return all(request(e, "/readyz").status == 200 for e in up.edges)

    wait_for("both edges ready", ready, 180)
    first, second = up.edges
    wait_for(
        "the origin serving",
        lambda: request(f"http://127.0.0.1:{up.port}", f"/{KEY_PATH}").status == 200,
        180,
    )
    path = f"/t/{token('media/assets/u1/')}/{KEY_PATH}"
    filled = request(first, path)
    assert (filled.status, filled.body, filled.headers["x-cache"]) == (200, SEGMENT, "MISS")
    from_peer = request(second, path)
    assert (from_peer.status, from_peer.body) == (200, SEGMENT)
    assert request(second, "/edge/report").json()["upstream"]["peer"]["fetches"] == 1
    report = request(first, "/edge/report").json()
    assert report["capacity_bytes"] == 10 * 1024 * 1024
    assert report["policy"] == "s3fifo"
    assert report["region"] == "local"

    status = up.status()
    assert status.count("edge-") >= 2, status
    assert "down" not in status, status

    # A killed edge is replaced on the same port, and keeps what it held on disk.
    victim = next(r for r in _edges(up) if r.slot == 0)
    os.kill(victim.pid, signal.SIGKILL)
    wait_for(
        "the killed edge replaced",
        lambda: (
            victim.instance_id not in up.edge_records()
            and all(probe(r).health == "ready" for r in _edges(up))
        ),
        60,
    )
    again = request(first, path)
    assert (again.status, again.body, again.headers["x-cache"]) == (200, SEGMENT, "HIT")

    assert up.stop() == 0, up.output()
    for edge in up.edges:
        with pytest.raises(ConnectionRefusedError):
            request(edge, "/healthz")


def _edges(up: Up) -> list[InstanceRecord]:
    data = up.root / "data" / "run"
    return [
        r
        for r in read_state(data / "edges.json") + read_state(data / "fleet.json")
        if r.service == "edge"
    ]
