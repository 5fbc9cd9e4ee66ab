"""API fuzz runs for the tests: schemathesis generates valid and invalid requests for every
operation of a service's OpenAPI document, and none may make it answer 5xx.

A :class:`ServedMonolith` is a started monolith on an event loop of its own in a background
thread, so the synchronous Hypothesis tests can send it requests; :func:`fuzz` sends every
generated request straight to one service instance (its own OpenAPI document, not the
gateway's), signed with the identity the test chooses, and reports what came back.

Needs the ``dev`` extra (schemathesis, hypothesis, httpx). Schemathesis draws from the global
``random`` module inside its strategies, which Hypothesis warns about: a fuzz test filters that
one warning with :data:`SCHEMATHESIS_RANDOM_WARNING` (it names schemathesis's code, not ours).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from matinee.gateway.auth import Identity, identity_headers
from matinee.platform import Platform
from matinee.runtime.app import ServiceSpec
from matinee.runtime.context import RuntimeConfig
from matinee.runtime.monolith import Monolith
from matinee.settings import Settings

T = TypeVar("T")

# For ``pytest.mark.filterwarnings``: schemathesis's negative strategies call ``random.random()``
# (generation/dictionaries.py), and Hypothesis deprecates that inside strategies.
SCHEMATHESIS_RANDOM_WARNING = (
    "ignore:Do not use the `random` module inside strategies"
    ":hypothesis.errors.HypothesisDeprecationWarning"
)
BOTH_MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
BASE_URL = "http://fuzz"
TIMEOUT_S = 60.0  # one request on a busy shared machine, generously


class ServedMonolith:
    """A started monolith on a loop in a background thread, with clients of its instances."""

    def __init__(
        self,
        settings: Settings,
        config: RuntimeConfig,
        services: Sequence[ServiceSpec],
        *,
        platform: Platform | None = None,
    ) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.monolith = Monolith(settings, config, services=services, platform=platform)
        self._clients: dict[str, httpx.AsyncClient] = {}
        try:
            self.run(self.monolith.start())
        except BaseException:
            self._stop_loop()
            raise

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the monolith's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=TIMEOUT_S)

    def client(self, service: str) -> httpx.AsyncClient:
        """A client of ``service``'s instance (in process, no gateway); closed with the monolith."""
        if service not in self._clients:
            app = self.monolith.instance(service).app
            transport = httpx.ASGITransport(app=app)
            self._clients[service] = httpx.AsyncClient(transport=transport, base_url=BASE_URL)
        return self._clients[service]

    def signed(self, identity: Identity) -> dict[str, str]:
        """The headers the gateway would add for ``identity``, signed now."""
        key = self.monolith.config.identity_key
        if key is None:  # the monolith always picks one; a None here is a bug in the runtime
            raise RuntimeError("the monolith has no identity key")
        return dict(identity_headers(identity, key, time.time()))

    def close(self) -> None:
        async def stop() -> None:
            for client in self._clients.values():
                await client.aclose()
            await self.monolith.leave()
            await self.monolith.stop()

        try:
            self.run(stop())
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@contextmanager
def served(
    settings: Settings,
    config: RuntimeConfig,
    services: Sequence[ServiceSpec],
    *,
    platform: Platform | None = None,
) -> Iterator[ServedMonolith]:
    """A :class:`ServedMonolith`, stopped at the end."""
    monolith = ServedMonolith(settings, config, services, platform=platform)
    try:
        yield monolith
    finally:
        monolith.close()


@dataclass
class FuzzReport:
    """What a fuzz run sent and what came back."""

    operations: list[str] = field(default_factory=list)  # "POST /api/..." fuzzed
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)  # every 5xx, with its body
    # Operations without a parameter or body, of which no invalid request can be made.
    nothing_invalid: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())


def _send_kwargs(case: schemathesis.Case[Any], headers: Mapping[str, str]) -> dict[str, Any]:
    kwargs = case.as_transport_kwargs(base_url=BASE_URL)
    kwargs["headers"] = {**(kwargs.pop("headers", None) or {}), **headers}
    kwargs.pop("cookies", None)  # the services never read cookies (the gateway does)
    data = kwargs.pop("data", None)
    if data is not None:  # httpx takes raw bodies as content, forms as data
        kwargs["data" if isinstance(data, Mapping) else "content"] = data
    return kwargs


def fuzz(
    monolith: ServedMonolith,
    service: str,
    prefixes: tuple[str, ...],
    *,
    headers: Callable[[], Mapping[str, str]] = dict,
    modes: tuple[GenerationMode, ...] = BOTH_MODES,
    examples: int = 15,
) -> FuzzReport:
    """Fuzz every operation of ``service`` whose path starts with one of ``prefixes``:
    ``examples`` generated requests per operation and generation mode, each sent with the
    headers ``headers()`` answers at that moment (a signed identity, typically)."""
    client = monolith.client(service)
    document = monolith.run(client.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    report = FuzzReport()
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            raise TypeError(f"{service}'s OpenAPI document has an unusable operation: {result}")
        operation = result.ok()
        if not operation.path.startswith(prefixes):
            continue
        name = f"{operation.method.upper()} {operation.path}"
        report.operations.append(name)
        for mode in modes:

            @settings(
                max_examples=examples,
                derandomize=True,  # the same requests on every run
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case: schemathesis.Case[Any]) -> None:
                response = monolith.run(client.request(**_send_kwargs(case, headers())))
                client.cookies.clear()  # a sign-in's cookie must not ride on the next case
                report.statuses[response.status_code] += 1
                if response.status_code >= 500:
                    report.failures.append(
                        f"{case.method} {case.formatted_path} -> {response.status_code} "
                        f"{response.text[:500]}"
                    )

            try:
                check()
            except Unsatisfiable:
                if mode is not GenerationMode.NEGATIVE:
                    raise
                report.nothing_invalid.append(name)
    return report
