"""The shape of a local fleet: which instance runs where (the auto-scaling groups' launch plan).

* ``registry_peers`` registry instances on ``registry_port``, ``registry_port + 1``, ... — each
  names every peer, so they replicate to one another and every instance can reach all of them;
* every other service (except the gateway) gets ``replicas`` instances on ports from
  ``base_port`` up, spread round-robin over the configured zones;
* the gateway gets ``replicas`` instances on the front-door ports ``port``, ``port + 1``, ...
  (in production an L4 load balancer or a Kubernetes Service sits in front of them);
* with the origin (``media``), ``settings.edges`` CDN edge processes (``fleet.edges``), placed
  before the gateways.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from matinee.fleet.edges import plan_edges
from matinee.fleet.supervisor import InstanceSpec
from matinee.runtime.monolith import GATEWAY, REGISTRY, start_order
from matinee.services import all_services
from matinee.settings import Settings

MEDIA = "media"


def registry_urls(settings: Settings) -> list[str]:
    return [
        f"http://{settings.host}:{settings.registry_port + i}/eureka"
        for i in range(settings.registry_peers)
    ]


def plan_fleet(settings: Settings, services: Iterable[str] | None = None) -> list[InstanceSpec]:
    """Every instance of the fleet, in start order (registry first, gateway last): of
    ``services`` (default: ``settings.services``, else all) and what they depend on."""
    specs = all_services()
    if services is None:
        services = settings.service_list
    wanted = set(services) if services is not None else set(specs)
    wanted |= {REGISTRY, GATEWAY}
    unknown = wanted - set(specs)
    if unknown:
        raise ValueError(f"no such service: {', '.join(sorted(unknown))}")
    pending = list(wanted)  # and everything they depend on
    while pending:
        for dep in specs[pending.pop()].depends_on:
            if dep not in wanted:
                wanted.add(dep)
                pending.append(dep)
    zones = settings.zone_list
    registries = registry_urls(settings)
    peers = [a for u in registries for a in ("--registry-url", u)]
    plan: list[InstanceSpec] = []
    next_port = settings.base_port
    for spec in start_order(s for s in specs.values() if s.name in wanted):
        count = settings.registry_peers if spec.name == REGISTRY else settings.replicas
        for slot in range(count):
            if spec.name == REGISTRY:
                port = settings.registry_port + slot
            elif spec.name == GATEWAY:
                port = settings.port + slot
            else:
                port = next_port
                next_port += 1
            zone = zones[slot % len(zones)]
            argv = (
                sys.executable,
                "-m",
                "matinee.runtime.instance",
                "--service",
                spec.name,
                "--host",
                settings.host,
                "--port",
                str(port),
                "--zone",
                zone,
                "--deregister-grace",
                str(settings.deregister_grace),
                "--drain-timeout",
                str(settings.drain_timeout),
                "--log-level",
                settings.log_level,
                *peers,
            )
            plan.append(InstanceSpec(spec.name, slot, port, zone, argv))
    if MEDIA in wanted:  # the CDN's edges fill from media (the origin): after it, before gateways
        first_gateway = next(i for i, s in enumerate(plan) if s.service == GATEWAY)
        plan[first_gateway:first_gateway] = plan_edges(settings, registry_urls=registries)
    return plan
