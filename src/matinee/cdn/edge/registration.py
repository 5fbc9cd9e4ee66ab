"""How an edge shows up in discovery: app ``edge`` with its region, cluster and public URL.

Steering lists the UP instances of app ``edge`` and reads their metadata; peers of a cluster
find each other the same way. An edge with registry URLs registers itself; where the registry
is not reachable over the network (the monolith keeps it in-process), the process that started
the edges registers them on their behalf (:class:`matinee.runtime.monolith.Monolith`'s
``sidecars``, as Netflix's Prana registered non-JVM apps).
"""

from __future__ import annotations

from matinee.cdn.edge.config import EDGE_APP, EdgeConfig
from matinee.discovery.models import DEFAULT_ZONE, InstanceInfo


def edge_instance(
    edge_id: str,
    host: str,
    port: int,
    *,
    region: str,
    cluster: str,
    public_url: str = "",
    zone: str = DEFAULT_ZONE,
    renewal_interval: float = 30.0,
    lease_duration: float = 90.0,
) -> InstanceInfo:
    """The registration of one edge."""
    return InstanceInfo.for_service(
        EDGE_APP,
        edge_id,
        host,
        port,
        zone=zone,
        metadata={
            "region": region,
            "cluster": cluster,
            "public_url": (public_url or f"http://{host}:{port}").rstrip("/"),
        },
        renewal_interval=renewal_interval,
        lease_duration=lease_duration,
    )


def edge_instance_of(config: EdgeConfig) -> InstanceInfo:
    """The registration of the edge ``config`` describes."""
    return edge_instance(
        config.edge_id,
        config.host,
        config.port,
        region=config.region,
        cluster=config.cluster,
        public_url=config.url,
        zone=config.zone,
        renewal_interval=config.discovery.renewal_interval,
        lease_duration=config.discovery.lease_duration,
    )
