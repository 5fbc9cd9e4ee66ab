"""What one edge appliance is told: where it keeps files, how much, who it is, where to fill
from and where to register."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from matinee.discovery.config import DiscoveryConfig
from matinee.discovery.models import DEFAULT_ZONE

EDGE_APP = "edge"  # the application name edges register under in discovery
MEDIA_PREFIX = "media/assets/"  # every object an edge serves lives under this key prefix


@dataclass(frozen=True)
class EdgeConfig:
    """One edge appliance.

    * ``root``: its disk; objects under ``root/objects``, partial fills under ``root/tmp``;
    * ``capacity_bytes``: how many bytes of objects it keeps; ``policy``: lru, sieve or s3fifo;
    * ``cluster``/``region``: peers in the same cluster fill each other; steering ranks by region;
    * ``origins``: origin base URLs (the media service, or the platform's front door); when
      empty, the instances of ``origin_app`` in discovery;
    * ``peers``: peer base URLs given up front; peers of the same cluster in discovery are added;
    * ``registry_urls``: registry peers to register with (none: no discovery, as in tests);
    * ``trust_forwarded``: read the client's address from ``X-Forwarded-For`` (only behind a
      proxy that sets it: a token bound to an address must not be fooled by a client);
    * ``retire_grace``: seconds an evicted file stays on disk, so a response that is about to
      send it still finds it;
    * ``memory_bytes``: an optional RAM tier for hot objects up to ``memory_max_object`` bytes
      (:mod:`matinee.cdn.edge.memory`); 0, the default, sends every hit from its file;
    * ``front``: ``python`` (granian serves everything) or ``nginx`` (nginx on ``port`` serves
      hits and hands the rest to the Python edge on ``backend_port``:
      :mod:`matinee.cdn.edge.front`).
    """

    edge_id: str
    root: Path
    capacity_bytes: int
    host: str = "127.0.0.1"
    port: int = 0
    public_url: str = ""
    cluster: str = "local-a"
    region: str = "local"
    zone: str = DEFAULT_ZONE
    policy: str = "lru"
    origins: tuple[str, ...] = ()
    origin_app: str = "media"
    peers: tuple[str, ...] = ()
    registry_urls: tuple[str, ...] = ()
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)
    trust_forwarded: bool = False
    connect_timeout: float = 2.0
    upstream_timeout: float = 30.0
    peer_timeout: float = 5.0
    fill_concurrency: int = 2
    retire_grace: float = 10.0
    memory_bytes: int = 0
    memory_max_object: int = 256 * 1024
    front: str = "python"
    backend_port: int = 0

    def __post_init__(self) -> None:
        if self.capacity_bytes <= 0:
            raise ValueError("an edge needs a capacity of at least one byte")
        if self.front not in ("python", "nginx"):
            raise ValueError(f"an edge's front is python or nginx, not {self.front!r}")

    @property
    def url(self) -> str:
        """Where clients reach this edge: ``public_url``, else ``http://host:port``."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
