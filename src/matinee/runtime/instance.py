"""One OS process serving one instance of one service on its own port (the fleet topology).

    python -m matinee.runtime.instance --service media --port 8101 --instance-id media-0.0 \\
        --zone zone-a --registry-url http://127.0.0.1:8761/eureka

The instance registers with the registry peers it is given, calls other services over real
sockets (``runtime.httpclient``, through the same client stack as the monolith) and answers on
granian. SIGTERM or SIGINT shut it down gracefully: it leaves discovery, keeps serving for
``--deregister-grace`` seconds, stops accepting, lets requests in flight finish, and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace

import uvloop

from matinee.discovery.config import DiscoveryConfig
from matinee.discovery.models import DEFAULT_ZONE
from matinee.errors import MatineeError
from matinee.runtime.app import build_instance
from matinee.runtime.config import load_runtime_config
from matinee.runtime.context import Node, RuntimeConfig, build_context
from matinee.runtime.httpclient import HttpTransport
from matinee.runtime.logs import configure_logging
from matinee.runtime.server import ServerConfig, serve_until_signalled
from matinee.services import service_spec
from matinee.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InstanceOptions:
    """What one instance process is told on its command line."""

    service: str
    port: int
    instance_id: str
    host: str = "127.0.0.1"
    zone: str = DEFAULT_ZONE
    registry_urls: tuple[str, ...] = ()
    discovery: dict[str, object] = field(default_factory=dict)
    deregister_grace: float = 0.0
    drain_timeout: float = 10.0
    log_level: str = "INFO"

    def runtime_config(self, base: RuntimeConfig) -> RuntimeConfig:
        """``base`` (from settings) with what the command line says about this instance."""
        overrides = dict(self.discovery)
        if self.registry_urls:
            overrides["registry_urls"] = self.registry_urls
        return replace(
            base,
            topology="fleet",
            zone=self.zone,
            host=self.host,
            drain_timeout=self.drain_timeout,
            deregister_grace=self.deregister_grace,
            discovery=DiscoveryConfig.model_validate({**base.discovery.model_dump(), **overrides}),
        )


async def run_instance(
    options: InstanceOptions,
    *,
    settings: Settings | None = None,
    stop_event: asyncio.Event | None = None,
) -> None:
    """Serve one instance until SIGTERM/SIGINT (or ``stop_event``), then shut down gracefully."""
    spec = service_spec(options.service)  # UnknownService names the ones there are
    settings = settings or Settings()
    config = options.runtime_config(load_runtime_config(settings))
    transport = HttpTransport(config.http)
    node = Node(settings, config, transport)
    ctx = build_context(
        spec.name, node, instance_id=options.instance_id, host=options.host, port=options.port
    )

    @asynccontextmanager
    async def sampling() -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(node.series.run(stop))
        try:
            yield
        finally:
            stop.set()
            await task

    ctx.add_lifespan(sampling)
    instance = build_instance(spec, ctx)
    instance.runtime.closing.push_async_callback(transport.aclose)
    instance.runtime.closing.push_async_callback(node.close)
    await serve_until_signalled(
        instance.app,
        ServerConfig(host=options.host, port=options.port),
        start=instance.runtime.start,
        leave=instance.runtime.deregister,
        stop=instance.runtime.stop,
        grace=config.deregister_grace,
        stop_event=stop_event,
    )


def parse_args(argv: Sequence[str] | None = None) -> InstanceOptions:
    parser = argparse.ArgumentParser(
        prog="python -m matinee.runtime.instance",
        description="Serve one instance of one matinee service on its own port.",
    )
    parser.add_argument("--service", required=True, help="registry, media, gateway, ...")
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--instance-id", required=True, help="unique, e.g. media-0.3")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on and register")
    parser.add_argument("--zone", default=DEFAULT_ZONE, help="availability zone of this instance")
    parser.add_argument(
        "--registry-url",
        action="append",
        default=[],
        help="a registry peer, e.g. http://127.0.0.1:8761/eureka (repeatable)",
    )
    parser.add_argument(
        "--discovery-json",
        default="{}",
        help='discovery settings as JSON, e.g. {"renewal_interval": 1, "lease_duration": 3}',
    )
    parser.add_argument("--deregister-grace", type=float, default=0.0)
    parser.add_argument("--drain-timeout", type=float, default=10.0)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    discovery = json.loads(args.discovery_json)
    if not isinstance(discovery, dict):
        parser.error("--discovery-json must be a JSON object")
    return InstanceOptions(
        service=args.service,
        port=args.port,
        instance_id=args.instance_id,
        host=args.host,
        zone=args.zone,
        registry_urls=tuple(args.registry_url),
        discovery=discovery,
        deregister_grace=args.deregister_grace,
        drain_timeout=args.drain_timeout,
        log_level=args.log_level,
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    configure_logging(options.service, options.instance_id, options.log_level)
    try:
        uvloop.run(run_instance(options))
    except MatineeError as exc:
        log.error("%s", exc)  # noqa: TRY400 - plain words for the operator, no stack trace
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
