"""An API fuzz run: schemathesis generates valid and invalid requests for every playback
operation and for the media service's signed route (``/t/{token}/{path}``), and none may make
them answer 5xx.

The monolith of ``test_api`` (the stand-ins for identity, billing and catalog, the real media,
playback and gateway) runs on an event loop of its own in a background thread; requests go
straight to each instance, signed as a member with a profile, so the checks past the session
are exercised too.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from matinee.gateway.auth import Identity, identity_headers
from matinee.platform import Platform
from matinee.runtime.monolith import Monolith
from matinee.settings import Settings

from . import fakes

pytestmark = pytest.mark.slow  # some hundreds of requests

T = TypeVar("T")
EXAMPLES = 25  # per operation and generation mode
MEMBER = Identity("acct", profile="p-adult", session="s-adult", country="US")


class Served:
    """A started monolith on a loop in a background thread."""

    def __init__(self, platform: Platform) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.monolith = Monolith(
            platform.settings,
            fakes.runtime_config(),
            services=fakes.services(fakes.household()),
            platform=platform,
        )
        self.run(self.monolith.start())

    def client(self, service: str) -> httpx.AsyncClient:
        app = self.monolith.instance(service).app
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x")

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def member_headers(self) -> dict[str, str]:
        key = self.monolith.config.identity_key
        assert key is not None
        return dict(identity_headers(MEMBER, key, time.time()))

    def close(self) -> None:
        async def stop() -> None:
            await self.monolith.leave()
            await self.monolith.stop()

        self.run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    platform = Platform(Settings(data_dir=tmp_path / "data"))
    fakes.publish_asset(platform)
    served = Served(platform)
    try:
        yield served
    finally:
        served.close()


def fuzz(
    served: Served,
    service: str,
    prefixes: tuple[str, ...],
    modes: tuple[GenerationMode, ...] = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
) -> tuple[int, dict[int, int]]:
    """Fuzz every operation of ``service`` under ``prefixes``; (operations, statuses seen)."""
    client = served.client(service)
    document = served.run(client.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    statuses: dict[int, int] = {}
    operations = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        if not operation.path.startswith(prefixes):
            continue
        operations += 1
        for mode in modes:

            @settings(
                max_examples=EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case: schemathesis.Case[Any]) -> None:
                kwargs = case.as_transport_kwargs(base_url="http://x")
                headers = {**(kwargs.pop("headers", None) or {}), **served.member_headers()}
                kwargs.pop("cookies", None)
                data = kwargs.pop("data", None)
                if data is not None:  # httpx takes raw bodies as content, forms as data
                    kwargs["data" if isinstance(data, Mapping) else "content"] = data
                response = served.run(client.request(headers=headers, **kwargs))
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path} -> {response.text}")

            check()
    served.run(client.aclose())
    assert failures == []
    assert sum(statuses.values()) >= operations * EXAMPLES  # every operation was exercised
    return operations, statuses


def test_no_generated_request_makes_playback_or_signed_media_fail(served: Served) -> None:
    operations, statuses = fuzz(served, "playback", ("/api/playback",))
    assert operations == 3
    assert {200, 404, 422} <= set(statuses), statuses
    # Any string is a valid token or path, so there are no invalid requests to generate there.
    operations, statuses = fuzz(served, "media", ("/t/",), (GenerationMode.POSITIVE,))
    assert operations == 2  # GET and HEAD
    assert set(statuses) <= {400, 403, 404}, statuses
