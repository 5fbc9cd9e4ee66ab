"""``matinee up`` and ``matinee status``: start the platform in a topology, and look at it."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from matinee.cdn.thirdparty import with_cdn_tier
from matinee.db.migrate import Migration, upgrade
from matinee.fleet.edges import EDGE, edges_state_path
from matinee.fleet.plan import plan_fleet
from matinee.fleet.supervisor import InstanceRecord, Supervisor, read_state, write_state
from matinee.runtime.config import identity_key, url_signing_key
from matinee.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InstanceStatus:
    record: InstanceRecord
    health: str  # "ready", "starting" (alive, not registered yet) or "down: <why>"


def prepare(settings: Settings) -> Migration:
    """What must happen once before any instance starts, in either topology: migrate the
    database (the one place ``matinee up`` does; instances would race to do it) and make the
    fleet-wide identity and URL-signing keys."""
    migration = upgrade(settings.resolved_database_url)
    identity_key(settings)
    url_signing_key(settings)  # playback signs, the origin and every edge verify
    return migration


def run_fleet(
    settings: Settings,
    *,
    stop: threading.Event | None = None,
    on_ready: Callable[[list[InstanceRecord]], None] | None = None,
    ready_timeout: float = 60.0,
    on_migrated: Callable[[Migration], None] | None = None,
) -> None:
    """Start every instance of the fleet, replace the ones that die, stop them all on
    SIGINT/SIGTERM (or when ``stop`` is set)."""
    migration = prepare(settings)
    if on_migrated is not None:
        on_migrated(migration)
    stop = stop or _stop_on_signals()
    supervisor = Supervisor(
        with_cdn_tier(plan_fleet(settings), settings),  # the third-party CDN tier (nginx)
        state_path=settings.fleet_state_path,
        log_dir=settings.data_dir / "logs",
    )
    waves = _waves(supervisor.records())
    try:
        # Start in waves, each waiting for the one before to be ready: the registry peers
        # first (so every instance can register at once), the gateway last.
        for wave in waves:
            supervisor.start(wave)
            _wait_ready(supervisor, wave, stop, ready_timeout)
        if on_ready is not None and not stop.is_set():
            on_ready(supervisor.records())
        supervisor.run(stop)
    finally:
        supervisor.stop(
            timeout=settings.drain_timeout + settings.deregister_grace + 5,
            waves=list(reversed(waves)),
        )


def _waves(records: list[InstanceRecord]) -> list[set[str]]:
    order = list(dict.fromkeys(r.service for r in records))  # plan order: registry ... gateway
    if len(order) <= 2:
        return [set(order)]
    services = [s for s in order[1:-1] if s != EDGE]
    edges = [{EDGE}] if EDGE in order else []  # they fill from the services: a wave after them
    return [w for w in ({order[0]}, set(services), *edges, {order[-1]}) if w]


def _wait_ready(
    supervisor: Supervisor, services: set[str], stop: threading.Event, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while not stop.is_set():
        supervisor.poll()
        states = [probe(r) for r in supervisor.records() if r.service in services]
        if all(s.health == "ready" for s in states):
            return
        if time.monotonic() > deadline:
            waiting = ", ".join(f"{s.record.instance_id} ({s.health})" for s in states)
            log.warning("still waiting for instances to be ready: %s", waiting)
            deadline = time.monotonic() + timeout
        stop.wait(0.25)


def write_monolith_state(settings: Settings) -> Path:
    """The monolith's entry in the state file ``matinee status`` reads (one process)."""
    record = InstanceRecord(
        service="monolith",
        slot=0,
        instance_id="monolith",
        port=settings.port,
        zone=settings.zone,
        pid=os.getpid(),
        started_at=time.time(),
        restarts=0,
        log="",
    )
    write_state(settings.fleet_state_path, [record])
    return settings.fleet_state_path


def status(settings: Settings) -> list[InstanceStatus]:
    """Every instance the last ``matinee up`` started, with its health right now (in the
    monolith, its edges are recorded apart, by their own supervisor)."""
    records = read_state(settings.fleet_state_path) + read_state(edges_state_path(settings))
    return [probe(r, host=settings.host) for r in records]


def probe(record: InstanceRecord, host: str = "127.0.0.1", timeout: float = 1.0) -> InstanceStatus:
    path = "/healthz" if record.service == "monolith" else "/readyz"
    url = f"http://{host}:{record.port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            ok = resp.status == 200
    except urllib.error.HTTPError as exc:
        return InstanceStatus(record, "starting" if exc.code == 503 else f"down: HTTP {exc.code}")
    except (OSError, urllib.error.URLError) as exc:
        reason = getattr(exc, "reason", exc)
        return InstanceStatus(record, f"down: {reason}")
    return InstanceStatus(record, "ready" if ok else "starting")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        del signum, frame
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop
