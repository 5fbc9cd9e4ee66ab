"""Service discovery in Eureka's and Ribbon's roles.

* :class:`Registry` - leases, eviction, self-preservation, deltas, status overrides;
* :func:`router` / :func:`registry_app` - Eureka's REST API over a registry;
* :class:`Replicator` - peers replicate client calls to each other, never twice;
* :class:`DiscoveryClient` - registers, heartbeats, caches the registry (full then delta);
* :class:`LoadBalancer` - zone-aware round robin or least outstanding, skipping failures.

Every duration is in :class:`DiscoveryConfig`.
"""

from matinee.discovery.api import registry_app, router
from matinee.discovery.balancer import InstanceSource, LoadBalancer
from matinee.discovery.client import DiscoveryClient
from matinee.discovery.config import DiscoveryConfig
from matinee.discovery.errors import DiscoveryError, InvalidInstance, RegistryUnavailable
from matinee.discovery.lease import RenewResult
from matinee.discovery.models import (
    ActionType,
    Application,
    Applications,
    DataCenterInfo,
    InstanceInfo,
    InstanceStatus,
    LeaseInfo,
)
from matinee.discovery.peers import REPLICATION_HEADER, RequestFn, ResponseLike
from matinee.discovery.registry import Registry
from matinee.discovery.replication import Replicator

__all__ = [
    "REPLICATION_HEADER",
    "ActionType",
    "Application",
    "Applications",
    "DataCenterInfo",
    "DiscoveryClient",
    "DiscoveryConfig",
    "DiscoveryError",
    "InstanceInfo",
    "InstanceSource",
    "InstanceStatus",
    "InvalidInstance",
    "LeaseInfo",
    "LoadBalancer",
    "Registry",
    "RegistryUnavailable",
    "RenewResult",
    "Replicator",
    "RequestFn",
    "ResponseLike",
    "registry_app",
    "router",
]
