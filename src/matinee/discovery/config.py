"""Every duration and threshold of discovery, with Eureka's defaults.

One object configures the registry server, peer replication and the client, so tests can shrink
every duration (leases of a fraction of a second) without touching code.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DiscoveryConfig(BaseModel):
    """Durations are in seconds. Defaults are Eureka's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # -- leases (server) ---------------------------------------------------------------------
    lease_duration: float = Field(
        default=90.0, gt=0, description="Lease length when the registrant gives none"
    )
    eviction_interval: float = Field(
        default=60.0, gt=0, description="How often expired leases are evicted"
    )
    # -- self-preservation (server) ----------------------------------------------------------
    self_preservation: bool = Field(
        default=True, description="Stop evicting when renewals fall below the threshold"
    )
    renewal_percent_threshold: float = Field(
        default=0.85,
        gt=0,
        le=1,
        description="Share of expected renewals below which self-preservation starts; also "
        "the share of the registry one eviction run must leave (so at most 15% go per run)",
    )
    expected_client_renewal_interval: float = Field(
        default=30.0, gt=0, description="The renewal interval clients are expected to use"
    )
    renew_rate_window: float = Field(
        default=60.0, gt=0, description="Window over which renewals are counted (a minute)"
    )
    renewal_threshold_update_interval: float = Field(
        default=900.0, gt=0, description="How often the expected number of clients is re-counted"
    )
    # -- delta (server) ----------------------------------------------------------------------
    delta_retention: float = Field(
        default=180.0, gt=0, description="How long a change stays in the delta queue"
    )
    delta_retention_check_interval: float = Field(
        default=30.0, gt=0, description="How often old changes leave the delta queue"
    )
    # -- replication (server) ----------------------------------------------------------------
    peer_urls: tuple[str, ...] = Field(
        default=(),
        description="The OTHER registry peers, e.g. http://10.0.0.2:8761/eureka (never this one)",
    )
    replication_timeout: float = Field(default=2.0, gt=0)
    replication_queue_size: int = Field(
        default=10_000, gt=0, description="Pending replications per peer before new ones drop"
    )
    sync_when_timestamp_differs: bool = Field(
        default=True, description="Answer 404/409 to renewals whose dirty timestamp differs"
    )
    # -- client ------------------------------------------------------------------------------
    registry_urls: tuple[str, ...] = Field(
        default=("http://127.0.0.1:8761/eureka",),
        description="Registry peers the client tries in turn",
    )
    renewal_interval: float = Field(default=30.0, gt=0, description="Client heartbeat interval")
    registry_fetch_interval: float = Field(
        default=30.0, gt=0, description="How often the client refreshes its cache"
    )
    request_timeout: float = Field(default=5.0, gt=0, description="Per request to a registry")
    startup_retry_interval: float = Field(
        default=0.5,
        gt=0,
        description="Until the first registration (or fetch) works, retry after this, doubling "
        "up to the normal interval, instead of waiting a whole interval (registry not up yet)",
    )
