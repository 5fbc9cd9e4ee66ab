"""A monolith with the web service for the web service's tests: requests through the gateway
(``front``) or straight at one instance (``direct``), and a signed identity for the admin API."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from matinee.clock import SystemClock
from matinee.gateway.auth import Identity, identity_headers
from matinee.gateway.config import GatewayConfig, RateLimitConfig
from matinee.gateway.shedding import SheddingConfig
from matinee.runtime.app import ServiceSpec
from matinee.runtime.context import RuntimeConfig
from matinee.runtime.monolith import Monolith
from matinee.runtime.transport import AsgiTransport, Response
from matinee.services import gateway, registry, web
from matinee.settings import Settings

FRONT = GatewayConfig(
    shedding=SheddingConfig(enabled=False), rate_limit=RateLimitConfig(enabled=False)
)
KEY = b"web-identity-key-for-tests-01234"
INDEX = b"<!doctype html><title>matinee</title><script src=/app/viewer.js></script>"
ADMIN = b"<!doctype html><title>matinee admin</title><script src=/app/admin.js></script>"
VIEWER_JS = b"console.log('viewer');\n" * 50


class ShiftedClock(SystemClock):
    """The system's clock, with a wall time a test can move forward (monotonic time, which
    leases and breakers use, stays real)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset


def build_dist(root: Path) -> Path:
    """What ``npm run build`` leaves in ``web/app/dist`` (small stand-ins)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_bytes(INDEX)
    (root / "admin.html").write_bytes(ADMIN)
    (root / "viewer.js").write_bytes(VIEWER_JS)
    (root / "app.css").write_bytes(b"body { color: #eee }\n")
    (root / "viewer.js.map").write_bytes(b'{"version":3}')
    (root / ".built").write_bytes(b"")
    return root


@dataclass
class Stack:
    monolith: Monolith
    front_transport: AsgiTransport

    async def front(self, path: str, method: str = "GET", **headers: str) -> Response:
        """Through the gateway, as a browser would ask."""
        items = [(k.replace("_", "-"), v) for k, v in headers.items()]
        return await self.front_transport.request(method, f"http://matinee.test{path}", items)

    async def direct(
        self, service: str, path: str, headers: Sequence[tuple[str, str]] = ()
    ) -> Response:
        """Straight at the service's instance (inside the monolith)."""
        return await self.monolith.transport.request(
            "GET", f"http://{service}-1.local{path}", list(headers)
        )

    def signed(self, *roles: str) -> list[tuple[str, str]]:
        """The identity header the gateway would send for a member with ``roles``."""
        now = self.monolith.node.clock.time()
        who = Identity(
            subject=str(uuid.uuid4()),
            profile=None,
            roles=tuple(roles),
            session="s-1",
            expires=now + 600,
            country="US",
        )
        key = self.monolith.config.identity_key or b""
        return identity_headers(who, key, now)

    async def admin(self, path: str) -> Response:
        return await self.direct("web", path, self.signed("member", "admin"))


@asynccontextmanager
async def running(
    settings: Settings,
    services: Sequence[ServiceSpec] = (),
    *,
    config: RuntimeConfig | None = None,
    clock: SystemClock | None = None,
) -> AsyncIterator[Stack]:
    """A monolith of the registry, ``services``, web and the gateway, started and stopped."""
    monolith = Monolith(
        settings,
        config or RuntimeConfig(gateway=FRONT, identity_key=KEY),
        services=[registry.SPEC, *services, web.SPEC, gateway.SPEC],
        clock=clock,
    )
    await monolith.start()
    try:
        yield Stack(monolith, AsgiTransport({"matinee.test": monolith}))
    finally:
        await monolith.leave()
        await monolith.stop()
