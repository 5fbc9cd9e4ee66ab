"""The supervisor replaces dead instances and stops the fleet cleanly (real child processes)."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest

from matinee.clock import FakeClock
from matinee.fleet.supervisor import InstanceSpec, Supervisor, read_state
from matinee.telemetry import Registry

# A stand-in instance: prints its id, exits 0 on SIGTERM (graceful), else sleeps.
SLEEPER = (
    "import signal,sys,time\n"
    "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
    "print(sys.argv[-1], flush=True)\n"
    "time.sleep(120)\n"
)


def _specs(n: int) -> list[InstanceSpec]:
    argv = (sys.executable, "-c", SLEEPER)
    return [InstanceSpec("echo", i, 9000 + i, "zone-a", argv) for i in range(n)]


def _wait_dead(sup: Supervisor, pid: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            Path(f"/proc/{pid}").stat()
        except FileNotFoundError:
            return
        status = Path(f"/proc/{pid}/stat").read_text().split()[2]
        if status == "Z":  # exited, not yet reaped: poll() will reap it
            return
        time.sleep(0.02)
    raise AssertionError(f"pid {pid} did not die")


def _wait_log(log: Path, lines: list[str]) -> None:
    deadline = time.monotonic() + 10
    while log.read_text().split() != lines:
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.02)


def test_killed_instance_is_replaced_with_a_new_id_on_the_same_port(tmp_path: Path) -> None:
    clock = FakeClock()
    metrics = Registry(clock)
    state = tmp_path / "fleet.json"
    sup = Supervisor(
        _specs(2), state_path=state, log_dir=tmp_path / "logs", clock=clock, metrics=metrics
    )
    sup.start()
    try:
        before = {r.slot: r for r in read_state(state)}
        assert [r.instance_id for r in before.values()] == ["echo-0.0", "echo-1.0"]
        _wait_log(tmp_path / "logs" / "echo-1.log", ["echo-1.0"])  # first generation is up
        pid = sup.kill("echo-1")
        _wait_dead(sup, pid)
        assert sup.poll() == []  # death noticed; replacement waits for the restart delay
        clock.advance(0.5)
        assert sup.poll() == ["echo-1.1"]
        after = {r.slot: r for r in read_state(state)}
        assert after[1].port == before[1].port
        assert after[1].pid != pid
        assert after[1].restarts == 1
        assert after[0] == before[0]  # the healthy instance is untouched
        assert metrics.counter("fleet.instance.died", service="echo").value == 1
        _wait_log(tmp_path / "logs" / "echo-1.log", ["echo-1.0", "echo-1.1"])
    finally:
        sup.stop(timeout=5)
    assert not state.exists()


def test_stop_terminates_gracefully_and_kills_stragglers(tmp_path: Path) -> None:
    stubborn = (
        "import signal,time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(120)\n"
    )
    specs = [InstanceSpec("stubborn", 0, 9100, "zone-a", (sys.executable, "-c", stubborn))]
    sup = Supervisor(specs, state_path=tmp_path / "fleet.json", log_dir=tmp_path / "logs")
    sup.start()
    time.sleep(0.5)  # let the child install its SIGTERM handler
    pid = sup.records()[0].pid
    sup.stop(timeout=0.5)
    assert not Path(f"/proc/{pid}").exists()
    assert sup.poll() == []  # a stopping fleet replaces nothing


def test_kill_of_unknown_slot_is_an_error(tmp_path: Path) -> None:
    sup = Supervisor(_specs(1), state_path=tmp_path / "s.json", log_dir=tmp_path / "logs")
    with pytest.raises(KeyError, match="nope-0"):
        sup.kill("nope-0", signal.SIGTERM)
