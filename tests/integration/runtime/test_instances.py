"""Instance processes over real sockets: a registry, two media instances and a gateway.

Each is ``python -m matinee.runtime.instance``; discovery durations are shrunk so the test runs
in seconds. SIGTERM must take an instance out of rotation without a single failed request.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from matinee.platform import Platform
from matinee.runtime.transport import AiohttpTransport, Response
from matinee.settings import Settings

from ..conftest import free_port

DISCOVERY = {
    "renewal_interval": 1,
    "registry_fetch_interval": 0.5,
    "lease_duration": 3,
    "eviction_interval": 1,
}
START_SECONDS = 30.0


@dataclass
class Fleet:
    tmp: Path
    registry_url: str
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def start(self, service: str, instance_id: str, port: int, *, grace: float = 0.0) -> None:
        argv = [
            sys.executable,
            "-m",
            "matinee.runtime.instance",
            "--service",
            service,
            "--port",
            str(port),
            "--instance-id",
            instance_id,
            "--registry-url",
            self.registry_url,
            "--discovery-json",
            json.dumps(DISCOVERY),
            "--deregister-grace",
            str(grace),
        ]
        env = {**os.environ, "MATINEE_DATA_DIR": str(self.tmp / "data")}
        with (self.tmp / f"{instance_id}.log").open("wb") as log:
            self.procs[instance_id] = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env=env
            )
        self.ports[instance_id] = port

    def log(self, instance_id: str) -> str:
        return (self.tmp / f"{instance_id}.log").read_text(errors="replace")

    def stop(self, instance_id: str, timeout: float = 15.0) -> int:
        proc = self.procs[instance_id]
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    Platform(Settings(data_dir=tmp_path / "data"))  # migrate once, before instances share the db
    port = free_port()
    running = Fleet(tmp_path, f"http://127.0.0.1:{port}/eureka")
    running.start("registry", "registry-0", port)
    try:
        yield running
    finally:
        for instance_id, proc in running.procs.items():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            print(f"--- {instance_id} ---\n{running.log(instance_id)[-3000:]}")


async def get(transport: AiohttpTransport, url: str) -> Response:
    return await transport.request("GET", url, [("accept", "application/json")], b"", 2.0)


async def until(
    check: Callable[[], Awaitable[bool]], what: str, within: float = START_SECONDS
) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if await check():
                return
        except Exception:  # noqa: BLE001, S110 - not up yet
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigterm_takes_an_instance_out_without_failed_requests(fleet: Fleet) -> None:
    async def main() -> None:
        transport = AiohttpTransport()
        try:
            await scenario(transport)
        finally:
            await transport.aclose()

    async def registered(transport: AiohttpTransport) -> list[str]:
        answer = await get(transport, f"{fleet.registry_url}/apps/MEDIA")
        if answer.status != 200:
            return []
        return sorted(i["instanceId"] for i in answer.json()["application"]["instance"])

    async def scenario(transport: AiohttpTransport) -> None:
        await until(
            lambda: _ok(transport, f"{fleet.registry_url}/apps"), "the registry", START_SECONDS
        )
        fleet.start("media", "media-1", free_port(), grace=1.0)
        fleet.start("media", "media-2", free_port(), grace=1.0)
        gateway_port = free_port()
        fleet.start("gateway", "gateway-1", gateway_port)
        front = f"http://127.0.0.1:{gateway_port}"

        async def both_registered() -> bool:
            return await registered(transport) == ["media-1", "media-2"]

        await until(both_registered, "both media instances to register")
        await until(lambda: _ok(transport, f"{front}/healthz"), "the gateway")
        await asyncio.sleep(1.0)  # the gateway's cache refreshes every 0.5 s

        served = {
            (await get(transport, f"{front}/api/media/about")).json()["instance"] for _ in range(8)
        }
        assert served == {"media-1", "media-2"}

        failures: list[str] = []
        counted = 0
        stop_load = asyncio.Event()

        async def load() -> None:
            nonlocal counted
            while not stop_load.is_set():
                answer = await get(transport, f"{front}/api/assets")
                counted += 1
                if answer.status != 200:
                    failures.append(f"{answer.status} {answer.body[:200]!r}")
                await asyncio.sleep(0.03)  # stay under the gateway's per-client rate limit

        loaders = [asyncio.create_task(load()) for _ in range(2)]
        await asyncio.sleep(0.5)
        code = await asyncio.to_thread(fleet.stop, "media-1")
        assert await registered(transport) == ["media-2"]
        await asyncio.sleep(0.5)
        stop_load.set()
        await asyncio.gather(*loaders)
        assert code == 0, fleet.log("media-1")
        assert counted > 20
        assert failures == []
        served = {
            (await get(transport, f"{front}/api/media/about")).json()["instance"] for _ in range(4)
        }
        assert served == {"media-2"}
        for instance_id in ("gateway-1", "media-2", "registry-0"):
            assert await asyncio.to_thread(fleet.stop, instance_id) == 0, fleet.log(instance_id)

    asyncio.run(main())


async def _ok(transport: AiohttpTransport, url: str) -> bool:
    return (await get(transport, url)).status == 200
