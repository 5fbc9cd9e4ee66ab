"""An API fuzz run: schemathesis generates valid and invalid requests for every operation in the
catalog's OpenAPI document, and none may make it answer 5xx.

On every kind of database, the catalog runs in a monolith (registry, media, catalog, gateway)
on an event loop of its own in a background thread; every generated request goes straight to
the catalog instance, signed as an administrator so the admin operations are exercised too.
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
from matinee.runtime.context import RuntimeConfig
from matinee.runtime.monolith import Monolith
from matinee.services import gateway, media, registry
from matinee.services.catalog import SPEC as CATALOG
from matinee.settings import Settings

pytestmark = [
    pytest.mark.slow,  # some hundreds of requests on each kind of database
    # schemathesis's own negative strategies draw from the ``random`` module, which Hypothesis
    # warns about; the warning is about schemathesis, not about this test or the catalog.
    pytest.mark.filterwarnings(
        "ignore:Do not use the `random` module inside strategies"
        ":hypothesis.errors.HypothesisDeprecationWarning"
    ),
]

T = TypeVar("T")
EXAMPLES = 15  # per operation and generation mode
ADMIN = Identity("fuzz-admin", roles=("admin",), country="US")
SEED = {
    "kind": "series",
    "name": "Stranger Things",
    "synopsis": "A boy vanishes.",
    "genres": ["Sci-Fi"],
    "maturity": 16,
    "release_year": 2016,
}


class Served:
    """A started monolith on a loop in a background thread, and a client of its catalog."""

    def __init__(self, settings: Settings) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.monolith = Monolith(
            settings,
            RuntimeConfig(),
            services=[registry.SPEC, media.SPEC, CATALOG, gateway.SPEC],
        )
        self.run(self.monolith.start())
        app = self.monolith.instance("catalog").app
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://catalog"
        )

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def admin_headers(self) -> dict[str, str]:
        key = self.monolith.config.identity_key
        assert key is not None
        return dict(identity_headers(ADMIN, key, time.time()))

    def close(self) -> None:
        async def stop() -> None:
            await self.client.aclose()
            await self.monolith.leave()
            await self.monolith.stop()

        self.run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[Served]:
    served = Served(Settings(data_dir=tmp_path, database_url=db_url))
    try:
        seeded = served.run(
            served.client.post("/api/catalog/titles", json=SEED, headers=served.admin_headers())
        )
        assert seeded.status_code == 201, seeded.text
        yield served
    finally:
        served.close()


def test_no_generated_request_makes_the_catalog_fail(served: Served) -> None:
    document = served.run(served.client.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    statuses: dict[int, int] = {}
    operations = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        if not operation.path.startswith(("/api/catalog", "/internal/catalog")):
            continue
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case: schemathesis.Case[Any]) -> None:
                kwargs = case.as_transport_kwargs(base_url="http://catalog")
                headers = {**(kwargs.pop("headers", None) or {}), **served.admin_headers()}
                kwargs.pop("cookies", None)
                data = kwargs.pop("data", None)
                if data is not None:  # httpx takes raw bodies as content, forms as data
                    kwargs["data" if isinstance(data, Mapping) else "content"] = data
                request = served.client.request(headers=headers, **kwargs)
                response = served.run(request)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path} -> {response.text}")

            check()
    assert operations >= 12
    assert failures == []
    assert sum(statuses.values()) >= operations * EXAMPLES  # every operation was exercised
    assert {200, 404, 422} <= set(statuses), statuses
