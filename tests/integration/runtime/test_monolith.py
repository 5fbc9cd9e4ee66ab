"""The monolith on a real socket: one port, the gateway in front, graceful stop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from matinee.db import upgrade
from matinee.runtime.monolith import run_monolith
from matinee.runtime.transport import AiohttpTransport
from matinee.settings import Settings

from ..conftest import free_port


def test_serves_the_page_and_api_on_one_port_and_stops(tmp_path: Path) -> None:
    async def main() -> None:
        port = free_port()
        dist = tmp_path / "dist"  # the web app's build, as `npm run build` leaves it
        dist.mkdir()
        (dist / "index.html").write_text("<title>matinee</title>")
        settings = Settings(data_dir=tmp_path, port=port, web_dist=dist)
        upgrade(settings.resolved_database_url)  # as `matinee up` does before instances start
        stop = asyncio.Event()
        serving = asyncio.create_task(run_monolith(settings, stop_event=stop))
        transport = AiohttpTransport()
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    page = await transport.request("GET", f"{base}/", timeout=2.0)
                    break
                except Exception:  # noqa: BLE001 - not listening yet
                    await asyncio.sleep(0.05)
            assert page.status == 200
            assert b"<title>matinee</title>" in page.body
            assets = await transport.request("GET", f"{base}/api/assets", timeout=2.0)
            assert (assets.status, assets.json()) == (200, [])
            assert assets.header("x-request-id")
            routes = await transport.request("GET", f"{base}/gateway/routes", timeout=2.0)
            assert routes.status == 200
        finally:
            stop.set()
            await asyncio.wait_for(serving, 15)
            await transport.aclose()
        assert serving.exception() is None

    asyncio.run(main())
