"""The one place settings are read (environment variables prefixed ``MATINEE_``).

Everything else receives the typed :class:`Settings` object (or a piece of it) as an argument.
Every backend is chosen by URL, so code never branches on where it runs.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "matinee"


class Settings(BaseSettings):
    """matinee's configuration. Override any field with ``MATINEE_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="MATINEE_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<data_dir>/matinee.db"
    )
    storage_url: str | None = Field(
        default=None, description="Object store URL: file:///path or s3://bucket/prefix"
    )
    queue_url: str = Field(default="local://", description="local:// runs tasks in a process pool")
    workers: int = Field(default=0, ge=0, description="Worker processes; 0 means one per core")
    task_attempts: int = Field(default=3, ge=1, description="Tries per task before the job fails")
    chunk_seconds: float = Field(
        default=8.0, gt=0, description="Target chunk length (rounded to whole segments)"
    )
    segment_seconds: float = Field(default=4.0, gt=0, description="CMAF segment length")
    x264_preset: str = Field(default="medium", description="x264 preset used by every rung")
    encoder_threads: int = Field(
        default=1, ge=0, description="Threads per x264 encoder; 0 lets x264 choose"
    )
    vmaf_subsample: int = Field(default=4, ge=1, description="Score every Nth frame for VMAF")
    worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="How much lower ingest workers (and their ffmpeg) run than the services, "
        "so sign-in and browsing stay quick while titles transcode on the same machine",
    )
    upload_ttl_s: float = Field(
        default=86400.0,
        gt=0,
        description="An unfinished upload is deleted this long after its last byte arrived",
    )
    # S3 settings (used only when storage_url is s3://...)
    s3_endpoint: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(
        default=8000, ge=1, le=65535, description="The front door (the gateway's first port)"
    )
    # The backbone: topology, fleet shape, discovery, the runtime's structured config.
    topology: Literal["monolith", "fleet"] = Field(
        default="monolith", description="monolith: one process; fleet: N processes per service"
    )
    replicas: int = Field(default=2, ge=1, description="Instances per service in a fleet")
    services: str = Field(
        default="",
        description="Services a fleet runs, comma-separated (with their dependencies); empty: all",
    )
    zone: str = Field(default="zone-a", description="This process's availability zone")
    zones: str = Field(
        default="zone-a,zone-b", description="Zones a fleet spreads each service's instances over"
    )
    registry_port: int = Field(default=8761, ge=1, le=65535, description="First registry peer")
    registry_peers: int = Field(default=2, ge=1, description="Registry peers in a fleet")
    base_port: int = Field(
        default=8100, ge=1, le=65535, description="First port of the fleet's service instances"
    )
    identity_key: str | None = Field(
        default=None,
        description="Key the gateway signs identities with; default: <data_dir>/identity.key",
    )
    runtime_config: Path | None = Field(
        default=None,
        description="TOML with [discovery], [gateway], [dependencies.NAME], [limit] tables",
    )
    drain_timeout: float = Field(default=10.0, ge=0, description="Seconds to finish requests")
    deregister_grace: float = Field(
        default=0.0, ge=0, description="Seconds an instance serves after leaving discovery"
    )
    fault_injection: bool = Field(
        default=False, description="Expose /faults on every instance (failure-injection tests)"
    )
    log_level: str = "INFO"
    # Stores of the service issues, each chosen by URL.
    history_url: str | None = Field(
        default=None,
        description="Viewing-history store: sqlite:///path (default) or cassandra://host:port/keyspace",
    )
    cache_url: str = Field(
        default="memory://",
        description="Cache: memory:// (in-process) or memcached://zone-a=h:p,h:p;zone-b=h:p",
    )
    url_signing_key: str | None = Field(
        default=None,
        description="Key media URLs are signed with; default: <data_dir>/url-signing.key",
    )
    # The CDN's edge appliances that `matinee up` starts beside the platform (both topologies).
    edges: int = Field(default=2, ge=0, description="Edge processes `matinee up` starts")
    edge_base_port: int = Field(
        default=8200, ge=1, le=65535, description="First edge's port (the next ones follow)"
    )
    edge_capacity_mb: int = Field(default=1024, ge=1, description="Disk each edge may fill")
    edge_policy: Literal["lru", "sieve", "s3fifo"] = Field(
        default="s3fifo", description="Eviction policy of the edges"
    )
    edge_front: Literal["auto", "nginx", "python"] = Field(
        default="auto",
        description="Who serves edge hits: nginx in front of each edge (as Open Connect "
        "appliances do), granian alone, or nginx when nginx is installed",
    )
    edge_region: str = Field(default="local", description="Region the local edges serve")
    edge_cluster: str = Field(default="local-a", description="Cluster of the local edges")

    # The CDN's steering, proactive fill and third-party tier (services/steering, cdn/).
    steering_config: Path | None = Field(
        default=None,
        description="TOML: client regions (CIDRs, countries), fill window, report polling",
    )
    cdn_url: str | None = Field(
        default=None,
        description="The third-party CDN steering lists after the edges; default: the nginx "
        "a fleet starts on cdn_port",
    )
    cdn_port: int = Field(
        default=8380, ge=0, le=65535, description="The fleet's nginx pull-through CDN (0: none)"
    )
    # The web service (services/web): the built viewer app and admin console.
    web_dist: Path | None = Field(
        default=None,
        description="The built web app (`npm run build`); default: web/app/dist in the checkout",
    )

    @cached_property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'matinee.db'}"

    @property
    def service_list(self) -> list[str] | None:
        """The services asked for, or None for all of them."""
        names = [n.strip() for n in self.services.split(",") if n.strip()]
        return names or None

    @cached_property
    def resolved_history_url(self) -> str:
        return self.history_url or f"sqlite:///{self.data_dir / 'history.db'}"

    @cached_property
    def resolved_storage_url(self) -> str:
        return self.storage_url or (self.data_dir / "objects").as_uri()

    @property
    def work_dir(self) -> Path:
        """Scratch space for a worker's temporary files (never the system of record)."""
        return self.data_dir / "work"

    @property
    def zone_list(self) -> list[str]:
        return [z.strip() for z in self.zones.split(",") if z.strip()] or [self.zone]

    @property
    def fleet_state_path(self) -> Path:
        return self.data_dir / "run" / "fleet.json"

    @property
    def worker_count(self) -> int:
        return self.workers or (os.cpu_count() or 1)
