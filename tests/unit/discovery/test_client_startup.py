"""The discovery client when the registry is not up yet: it retries soon, backing off, and only
until its first success; after that it keeps Eureka's intervals."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import FastAPI

from matinee.clock import FakeClock
from matinee.discovery.api import router
from matinee.discovery.client import DiscoveryClient
from matinee.discovery.config import DiscoveryConfig
from matinee.discovery.models import InstanceInfo
from matinee.discovery.registry import Registry
from matinee.telemetry.metrics import Registry as Metrics
from matinee.testing.discovery import HttpxRequest, SimpleResponse

URL = "http://registry/eureka"


class RecordingClock(FakeClock):
    """A fake clock that remembers how long each task asked to sleep."""

    def __init__(self) -> None:
        super().__init__()
        self.sleeps: dict[object, list[float]] = {}

    async def sleep(self, seconds: float) -> None:
        self.sleeps.setdefault(asyncio.current_task(), []).append(seconds)
        await super().sleep(seconds)


class Registrar:
    """The registry over in-process HTTP; while ``down`` every call is refused."""

    def __init__(self, registry: Registry) -> None:
        app = FastAPI()
        app.include_router(router(registry))
        self.request = HttpxRequest(app)
        self.down = True

    async def __call__(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        timeout: float,  # noqa: ASYNC109 - the transport shape
    ) -> SimpleResponse:
        if self.down:
            raise ConnectionRefusedError(f"connection to {url} refused")
        return await self.request(method, url, headers, body, timeout)


Scenario = Callable[[RecordingClock, Registry, Registrar], Awaitable[None]]


def run(scenario: Scenario) -> None:
    async def main() -> None:
        clock = RecordingClock()
        registry = Registry(DiscoveryConfig(), clock, Metrics(clock))
        registrar = Registrar(registry)
        try:
            await scenario(clock, registry, registrar)
        finally:
            await registrar.request.aclose()

    asyncio.run(main())


def client(clock: RecordingClock, registrar: Registrar, **config: object) -> DiscoveryClient:
    cfg = DiscoveryConfig.model_validate(
        {"registry_urls": (URL,), "renewal_interval": 8, "registry_fetch_interval": 30, **config}
    )
    me = InstanceInfo.for_service("media", "media-1", "127.0.0.1", 9000, zone="zone-a")
    return DiscoveryClient(cfg, registrar, clock, Metrics(clock), self_info=me)


async def spin(until: Callable[[], bool], rounds: int = 200) -> None:
    for _ in range(rounds):
        if until():
            return
        await asyncio.sleep(0)
    raise AssertionError("the client's loops did not get there")


def test_a_registry_that_is_not_up_yet_is_retried_soon_with_a_doubling_backoff() -> None:
    async def scenario(clock: RecordingClock, registry: Registry, registrar: Registrar) -> None:
        c = client(clock, registrar)
        await c.start()
        assert not c.registered
        fetch_task, beat_task = c._tasks  # which loop slept how long
        await spin(lambda: len(clock.sleeps.get(fetch_task, [])) >= 8)
        assert clock.sleeps[beat_task][:5] == [0.5, 1.0, 2.0, 4.0, 8.0]  # then renewal_interval
        assert set(clock.sleeps[beat_task][4:]) == {8.0}
        assert clock.sleeps[fetch_task][:8] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]

        registrar.down = False
        await spin(lambda: c.registered and c.instances("media") != [])
        assert registry.lease("MEDIA", "media-1") is not None
        await c.stop()

    run(scenario)


def test_the_retry_restarts_at_the_short_interval_on_the_first_success_only() -> None:
    async def scenario(clock: RecordingClock, registry: Registry, registrar: Registrar) -> None:
        c = client(clock, registrar, startup_retry_interval=1.0)
        await c.start()
        _, beat_task = c._tasks  # which loop slept how long
        await spin(lambda: len(clock.sleeps.get(beat_task, [])) >= 2)
        registrar.down = False
        await spin(lambda: c.registered)
        beats = len(clock.sleeps[beat_task])
        await spin(lambda: len(clock.sleeps[beat_task]) >= beats + 3)
        # registered: Eureka's heartbeat interval from now on, even when the registry fails again
        registrar.down = True
        await spin(lambda: len(clock.sleeps[beat_task]) >= beats + 6)
        assert clock.sleeps[beat_task][:2] == [1.0, 2.0]
        assert set(clock.sleeps[beat_task][beats:]) == {8.0}
        await c.stop(deregister=False)

    run(scenario)


def test_a_registry_that_is_up_gets_the_normal_intervals_from_the_start() -> None:
    async def scenario(clock: RecordingClock, registry: Registry, registrar: Registrar) -> None:
        registrar.down = False
        c = client(clock, registrar)
        await c.start()
        assert c.registered
        fetch_task, beat_task = c._tasks  # which loop slept how long
        await spin(lambda: len(clock.sleeps.get(fetch_task, [])) >= 3)
        assert set(clock.sleeps[fetch_task]) == {30.0}
        assert set(clock.sleeps[beat_task]) == {8.0}
        await c.stop()

    run(scenario)
