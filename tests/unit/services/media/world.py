"""A media service in a monolith (registry, media, gateway) for the upload and jobs API tests:
clients straight at the media instance as an administrator, a member or nobody (identity
headers signed with the monolith's key), and one through the gateway."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx

from matinee.gateway.auth import Identity, identity_headers
from matinee.gateway.config import GatewayConfig, RateLimitConfig
from matinee.gateway.shedding import SheddingConfig
from matinee.platform import Platform
from matinee.runtime.app import ServiceSpec
from matinee.runtime.context import RuntimeConfig
from matinee.runtime.monolith import Monolith
from matinee.services import gateway, media, registry
from matinee.services.media.errors import STATUS
from matinee.services.media.tus import encode_metadata
from matinee.settings import Settings

ADMIN = Identity("admin-1", roles=("member", "admin"), country="US")
MEMBER = Identity("member-1", roles=("member",), country="US")
TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {**TUS, "Content-Type": "application/offset+octet-stream"}
MAX_UPLOAD = 1 << 20
PREFIX = "/api/media/uploads"


@dataclass
class World:
    monolith: Monolith
    platform: Platform
    admin: httpx.AsyncClient
    member: httpx.AsyncClient
    anon: httpx.AsyncClient
    front: httpx.AsyncClient

    async def create(
        self, length: int, form: Mapping[str, str | None] | None = None, **headers: str
    ) -> str:
        """A new upload's path (``/api/media/uploads/<id>``)."""
        meta = form if form is not None else {"filename": "clip.mp4", "title": "Clip"}
        sent = {**TUS, "Upload-Length": str(length), "Upload-Metadata": encode_metadata(meta)}
        answer = await self.admin.post(PREFIX, headers={**sent, **headers})
        assert answer.status_code == 201, answer.text
        location = answer.headers["location"]
        assert location.startswith(PREFIX + "/")
        return location

    async def patch(self, path: str, offset: int, body: bytes) -> httpx.Response:
        return await self.admin.patch(
            path, content=body, headers={**OCTETS, "Upload-Offset": str(offset)}
        )


def media_spec(*, run_jobs: bool = False) -> ServiceSpec:
    """The media service with a small Tus-Max-Size; jobs recorded but not run by default."""
    build = partial(media.build, run_jobs=run_jobs, max_upload=MAX_UPLOAD)
    return ServiceSpec("media", build=build, errors=STATUS)


def run(
    tmp_path: Path, body: Callable[[World], Awaitable[None]], *, run_jobs: bool = False
) -> None:
    platform = Platform(Settings(data_dir=tmp_path / "data"))
    config = RuntimeConfig(
        gateway=GatewayConfig(
            shedding=SheddingConfig(enabled=False), rate_limit=RateLimitConfig(enabled=False)
        )
    )

    async def main() -> None:
        m = Monolith(
            platform.settings,
            config,
            services=[registry.SPEC, media_spec(run_jobs=run_jobs), gateway.SPEC],
            platform=platform,
        )
        await m.start()
        key = m.config.identity_key
        assert key is not None
        app = m.instance("media").app

        def client(who: Identity | None) -> httpx.AsyncClient:
            headers = dict(identity_headers(who, key, time.time())) if who else {}
            return httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://media", headers=headers
            )

        front = httpx.AsyncClient(transport=httpx.ASGITransport(app=m), base_url="http://front")
        clients = [client(ADMIN), client(MEMBER), client(None), front]
        try:
            await body(World(m, platform, *clients))
        finally:
            for c in clients:
                await c.aclose()
            await m.leave()
            await m.stop()

    asyncio.run(main())
