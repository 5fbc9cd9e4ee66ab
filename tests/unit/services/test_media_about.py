"""The media service's tiny JSON endpoint (the gateway benchmark's target)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import FastAPI

from matinee.platform import Platform
from matinee.runtime.transport import AsgiTransport
from matinee.services.media.api import router
from matinee.settings import Settings


def test_about_names_the_instance(tmp_path: Path) -> None:
    app = FastAPI()
    app.include_router(router(Platform(Settings(data_dir=tmp_path)), instance="media-3"))

    async def main() -> None:
        answer = await AsgiTransport({"media.local": app}).request(
            "GET", "http://media.local/api/media/about"
        )
        assert answer.status == 200
        assert answer.json() == {"service": "media", "instance": "media-3", "version": "0.1.0"}

    asyncio.run(main())
