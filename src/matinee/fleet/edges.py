"""The edge appliances ``matinee up`` runs beside the platform ("origin plus 2 edge processes
on localhost" in the embedded default).

* :func:`plan_edges`: one :class:`InstanceSpec` per edge (``settings.edges`` of them, on ports
  from ``edge_base_port``, disk under ``<data_dir>/edges/<n>``), each naming the others as peers.
  The fleet adds them to its plan (a wave after the services, before the gateways); they find
  the origin (``media``) and register themselves through the fleet's registry.
* :func:`monolith_edges`: in the monolith, the same processes under a :class:`Supervisor` of
  their own (replaced when they die, stopped with the platform); they fill from the monolith's
  front door, and the monolith registers them in its in-process registry (it is not reachable
  from another process), via ``Monolith(sidecars=...)``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from matinee.cdn.edge.registration import edge_instance
from matinee.discovery.models import InstanceInfo
from matinee.fleet.supervisor import InstanceSpec, Supervisor
from matinee.settings import Settings

EDGE = "edge"


def edge_root(settings: Settings, slot: int) -> Path:
    return settings.data_dir / "edges" / str(slot)


def edges_state_path(settings: Settings) -> Path:
    """Where the monolith's edge supervisor records its processes (``matinee status``)."""
    return settings.data_dir / "run" / "edges.json"


def edge_url(settings: Settings, slot: int) -> str:
    return f"http://{settings.host}:{settings.edge_base_port + slot}"


def plan_edges(
    settings: Settings, *, origin: str | None = None, registry_urls: Sequence[str] = ()
) -> list[InstanceSpec]:
    """Every edge process: with ``origin`` a fixed origin URL, else the ``media`` instances in
    discovery; with ``registry_urls`` each registers itself."""
    zones = settings.zone_list
    specs = []
    for slot in range(settings.edges):
        port = settings.edge_base_port + slot
        peers = [edge_url(settings, other) for other in range(settings.edges) if other != slot]
        argv = [
            sys.executable,
            "-m",
            "matinee.cdn.edge",
            "--host",
            settings.host,
            "--port",
            str(port),
            "--root",
            str(edge_root(settings, slot)),
            "--capacity-bytes",
            str(settings.edge_capacity_mb * 1024 * 1024),
            "--cluster",
            settings.edge_cluster,
            "--region",
            settings.edge_region,
            "--zone",
            zones[slot % len(zones)],
            "--policy",
            settings.edge_policy,
            "--front",
            settings.edge_front,
            "--log-level",
            settings.log_level,
            "--edge-id",  # stable across replacements: steering and the registry know it by it
            f"{EDGE}-{slot}",
        ]
        argv += [a for peer in peers for a in ("--peer", peer)]
        argv += [a for url in registry_urls for a in ("--registry-url", url)]
        if origin is not None:
            argv += ["--origin", origin]
        specs.append(InstanceSpec(EDGE, slot, port, zones[slot % len(zones)], tuple(argv)))
    return specs


def sidecar_instances(settings: Settings) -> list[InstanceInfo]:
    """How the monolith registers its edges on their behalf (one stable id per slot)."""
    zones = settings.zone_list
    return [
        edge_instance(
            f"{EDGE}-{slot}",
            settings.host,
            settings.edge_base_port + slot,
            region=settings.edge_region,
            cluster=settings.edge_cluster,
            zone=zones[slot % len(zones)],
        )
        for slot in range(settings.edges)
    ]


@contextmanager
def monolith_edges(
    settings: Settings, *, stop_timeout: float = 15.0
) -> Iterator[list[InstanceInfo]]:
    """Run the monolith's edges while the block runs; yields their registrations."""
    if settings.edges == 0:
        yield []
        return
    front = f"http://{settings.host}:{settings.port}"
    supervisor = Supervisor(
        plan_edges(settings, origin=front),
        state_path=edges_state_path(settings),
        log_dir=settings.data_dir / "logs",
    )
    stop = threading.Event()
    watcher = threading.Thread(target=supervisor.run, args=(stop,), name="edges", daemon=True)
    supervisor.start()
    watcher.start()
    try:
        yield sidecar_instances(settings)
    finally:
        stop.set()
        watcher.join()
        supervisor.stop(timeout=stop_timeout)
