"""Runs every instance of a local fleet as its own OS process and replaces the ones that die.

This is the auto-scaling group's job on one machine: each instance is a process with its own
port; when one exits without being asked to (a crash, ``kill -9``, the chaos monkey), a fresh
instance with a new id takes the same port within ``restart_delay`` seconds. The old instance's
registration simply expires from discovery, as it would in Eureka.

The supervisor writes the fleet's state to a JSON file that ``matinee status`` reads.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from matinee.clock import Clock, SystemClock
from matinee.procutil import die_with_parent
from matinee.telemetry import Registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InstanceSpec:
    """What to run for one slot of the fleet: the command gets ``--instance-id`` appended."""

    service: str
    slot: int
    port: int
    zone: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.service}-{self.slot}"


@dataclass
class InstanceRecord:
    service: str
    slot: int
    instance_id: str
    port: int
    zone: str
    pid: int
    started_at: float
    restarts: int
    log: str


@dataclass
class _Slot:
    spec: InstanceSpec
    generation: int = 0
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    died_at: float | None = None

    @property
    def instance_id(self) -> str:
        return f"{self.spec.name}.{self.generation}"


class Supervisor:
    """Starts, watches and stops a fleet of instance processes."""

    def __init__(
        self,
        specs: Sequence[InstanceSpec],
        *,
        state_path: Path,
        log_dir: Path,
        clock: Clock | None = None,
        metrics: Registry | None = None,
        restart_delay: float = 0.5,
    ) -> None:
        self._slots = [_Slot(spec) for spec in specs]
        self._state_path = state_path
        self._log_dir = log_dir
        self._clock = clock or SystemClock()
        self._metrics = metrics or Registry(self._clock)
        self._restart_delay = restart_delay
        self._lock = threading.Lock()
        self._stopping = False

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, services: Collection[str] | None = None) -> None:
        """Spawn the instances of ``services`` (default: every one not started yet)."""
        self._log_dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            for slot in self._slots:
                if slot.process is None and (services is None or slot.spec.service in services):
                    self._spawn(slot)
            self._write_state()

    def run(self, stop: threading.Event, interval: float = 0.25) -> None:
        """Watch the fleet until ``stop`` is set, replacing instances that die."""
        while not stop.wait(interval):
            self.poll()

    def poll(self) -> list[str]:
        """Replace every instance that has exited; returns the ids of the replacements."""
        replaced = []
        with self._lock:
            if self._stopping:
                return []
            now = self._clock.monotonic()
            for slot in self._slots:
                proc = slot.process
                if proc is None or proc.poll() is None:
                    continue
                if slot.died_at is None:
                    slot.died_at = now
                    log.warning(
                        "instance %s (pid %d) exited with %s; replacing it",
                        slot.instance_id,
                        proc.pid,
                        proc.returncode,
                    )
                    self._metrics.counter("fleet.instance.died", service=slot.spec.service).inc()
                if now - slot.died_at >= self._restart_delay:
                    slot.generation += 1
                    slot.restarts += 1
                    self._spawn(slot)
                    replaced.append(slot.instance_id)
            if replaced:
                self._write_state()
        return replaced

    def stop(self, timeout: float = 10.0, waves: Sequence[Collection[str]] = ()) -> None:
        """SIGTERM every instance (graceful shutdown), then SIGKILL what is left after timeout.

        ``waves`` stops services group by group (e.g. gateway, then services, then registry),
        so instances can still deregister while the registry is up; the rest go last.
        """
        with self._lock:
            self._stopping = True
        named = {name for wave in waves for name in wave}
        groups = [*waves, {s.spec.service for s in self._slots} - named]
        deadline = self._clock.monotonic() + timeout
        for group in groups:
            procs = [
                s.process
                for s in self._slots
                if s.spec.service in group and s.process and s.process.poll() is None
            ]
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=max(0.0, deadline - self._clock.monotonic()))
                except subprocess.TimeoutExpired:
                    log.warning("instance pid %d ignored SIGTERM; killing it", proc.pid)
                    proc.kill()
                    proc.wait()
        self._state_path.unlink(missing_ok=True)

    # -- chaos and inspection -------------------------------------------------------------------
    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Send ``sig`` to the live instance in slot ``name`` (``media-0``); returns its pid."""
        with self._lock:
            for slot in self._slots:
                if slot.spec.name == name and slot.process and slot.process.poll() is None:
                    slot.process.send_signal(sig)
                    return slot.process.pid
        raise KeyError(f"no live instance in slot {name}")

    def records(self) -> list[InstanceRecord]:
        with self._lock:
            return [self._record(s) for s in self._slots]

    # -- internals ------------------------------------------------------------------------------
    def _spawn(self, slot: _Slot) -> None:
        spec = slot.spec
        log_path = self._log_dir / f"{spec.name}.log"
        env = {**os.environ, **spec.env}
        with log_path.open("ab") as out:
            slot.process = subprocess.Popen(
                [*spec.argv, "--instance-id", slot.instance_id],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=die_with_parent,  # noqa: PLW1509 - prctl only, no locks taken
            )
        slot.started_at = self._clock.time()
        slot.died_at = None
        self._metrics.counter("fleet.instance.started", service=spec.service).inc()
        log.info("started %s on port %d (pid %d)", slot.instance_id, spec.port, slot.process.pid)

    def _record(self, slot: _Slot) -> InstanceRecord:
        return InstanceRecord(
            service=slot.spec.service,
            slot=slot.spec.slot,
            instance_id=slot.instance_id,
            port=slot.spec.port,
            zone=slot.spec.zone,
            pid=slot.process.pid if slot.process else 0,  # 0: not started yet
            started_at=slot.started_at,
            restarts=slot.restarts,
            log=str(self._log_dir / f"{slot.spec.name}.log"),
        )

    def _write_state(self) -> None:
        write_state(self._state_path, [self._record(s) for s in self._slots])


def write_state(path: Path, records: Sequence[InstanceRecord]) -> None:
    """Replace the state file ``matinee status`` reads, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"instances": [asdict(r) for r in records]}, indent=2))
    tmp.replace(path)


def read_state(path: Path) -> list[InstanceRecord]:
    """The fleet state a running supervisor last wrote (empty when nothing is up)."""
    try:
        body = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    return [InstanceRecord(**item) for item in body.get("instances", [])]
