"""``python -m matinee.cdn.edge``: one edge appliance process, served by granian.

    python -m matinee.cdn.edge --port 8200 --root DIR --capacity-bytes N \\
        --cluster local-a --region local --origin http://127.0.0.1:8000 \\
        [--peer URL ...] [--registry-url URL ...] [--policy lru|sieve|s3fifo] \
        [--front python|nginx|auto [--backend-port N]]

``--front nginx`` puts nginx on ``--port`` to serve hits (:mod:`matinee.cdn.edge.front`), with
this process behind it on ``--backend-port`` (default: a free port); ``auto`` uses nginx when
nginx and its JavaScript module are installed.

The URL-signing key is the platform's (``MATINEE_URL_SIGNING_KEY``, else the key file in
``MATINEE_DATA_DIR``), so tokens the playback service signs verify here. SIGTERM or SIGINT:
leave discovery, stop accepting, let responses finish, exit 0.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import uvloop

from matinee.cdn import POLICIES
from matinee.cdn.edge.app import EdgeApp
from matinee.cdn.edge.appliance import Appliance
from matinee.cdn.edge.config import EdgeConfig
from matinee.cdn.edge.front import FRONTS, choose, free_port
from matinee.discovery.config import DiscoveryConfig
from matinee.discovery.models import DEFAULT_ZONE
from matinee.errors import MatineeError
from matinee.runtime.config import load_runtime_config
from matinee.runtime.logs import configure_logging
from matinee.runtime.server import ServerConfig, serve_until_signalled
from matinee.settings import Settings

log = logging.getLogger(__name__)


def parse_args(
    argv: Sequence[str] | None = None, *, discovery: DiscoveryConfig | None = None
) -> tuple[EdgeConfig, str]:
    """The edge's config and log level from its command line; ``discovery`` is the base that
    ``--discovery-json`` overrides (the runtime config's, in ``main``)."""
    parser = argparse.ArgumentParser(
        prog="python -m matinee.cdn.edge", description="Serve one matinee edge appliance."
    )
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on and register")
    parser.add_argument("--root", required=True, type=Path, help="the edge's disk folder")
    parser.add_argument("--capacity-bytes", required=True, type=int)
    parser.add_argument("--cluster", default="local-a", help="peers of a cluster fill each other")
    parser.add_argument("--region", default="local", help="where steering sends clients from")
    parser.add_argument("--zone", default=DEFAULT_ZONE)
    parser.add_argument("--policy", default="lru", choices=sorted(POLICIES))
    parser.add_argument(
        "--origin", action="append", default=[], help="origin base URL (repeatable)"
    )
    parser.add_argument(
        "--origin-app", default="media", help="without --origin: this app in discovery"
    )
    parser.add_argument("--peer", action="append", default=[], help="peer edge URL (repeatable)")
    parser.add_argument(
        "--registry-url", action="append", default=[], help="registry peer (repeatable)"
    )
    parser.add_argument(
        "--discovery-json", default="{}", help='e.g. {"renewal_interval": 1, "lease_duration": 3}'
    )
    parser.add_argument("--public-url", default="", help="how clients reach this edge")
    parser.add_argument("--edge-id", default="", help="a stable name (wins over --instance-id)")
    parser.add_argument("--instance-id", default="", help="what a supervisor calls this process")
    parser.add_argument("--trust-forwarded", action="store_true", help="read X-Forwarded-For")
    parser.add_argument(
        "--memory-bytes", type=int, default=0, help="RAM tier for hot objects (0: none)"
    )
    parser.add_argument("--front", default="python", choices=FRONTS, help="who serves hits")
    parser.add_argument("--backend-port", type=int, default=0, help="behind nginx (0: any)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    overrides = json.loads(args.discovery_json)
    if not isinstance(overrides, dict):
        parser.error("--discovery-json must be a JSON object")
    base = (discovery or DiscoveryConfig()).model_dump()
    if args.capacity_bytes <= 0:
        parser.error("--capacity-bytes must be a positive number")
    front = choose(args.front)
    backend_port = args.backend_port or (free_port() if front == "nginx" else 0)
    config = EdgeConfig(
        edge_id=args.edge_id or args.instance_id or f"edge-{args.port}",
        root=args.root,
        capacity_bytes=args.capacity_bytes,
        host=args.host,
        port=args.port,
        public_url=args.public_url,
        cluster=args.cluster,
        region=args.region,
        zone=args.zone,
        policy=args.policy,
        origins=tuple(args.origin),
        origin_app=args.origin_app,
        peers=tuple(args.peer),
        registry_urls=tuple(args.registry_url),
        discovery=DiscoveryConfig.model_validate({**base, **overrides}),
        trust_forwarded=args.trust_forwarded,
        memory_bytes=max(0, args.memory_bytes),
        front=front,
        backend_port=backend_port,
    )
    return config, args.log_level


async def run_edge(config: EdgeConfig, key: bytes) -> None:
    """Serve the edge until SIGTERM/SIGINT, then shut it down gracefully."""
    edge = Appliance(config, key)
    if config.front == "nginx":  # nginx listens on the edge's port; this process behind it
        server = ServerConfig(host="127.0.0.1", port=config.backend_port)
    else:
        server = ServerConfig(host=config.host, port=config.port)
    await serve_until_signalled(
        EdgeApp(edge),
        server,
        start=edge.start,
        leave=edge.leave,
        stop=edge.stop,
    )


def main(argv: Sequence[str] | None = None) -> int:
    runtime = load_runtime_config(Settings())  # the platform's discovery durations and key
    config, level = parse_args(argv, discovery=runtime.discovery)
    configure_logging("edge", config.edge_id, level)
    if not runtime.url_signing_key:
        log.error("the platform has no URL-signing key")
        return 1
    try:
        uvloop.run(run_edge(config, runtime.url_signing_key))
    except MatineeError as exc:
        log.error("%s", exc)  # noqa: TRY400 - plain words for the operator, no stack trace
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
