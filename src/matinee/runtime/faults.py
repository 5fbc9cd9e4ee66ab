"""Failure injection (Netflix's FIT): make one instance fail or slow down on purpose.

When ``RuntimeConfig.fault_injection`` is on (``MATINEE_FAULT_INJECTION=true``), every instance
answers ``/faults``:

* ``GET /faults`` - the faults in force, ``{"faults": [...]}``;
* ``PUT /faults`` - add one fault (JSON ``{"status": 500, "latency_s": 0.05, "rate": 1.0,
  "path_prefix": "/api"}``), replacing any fault with the same path prefix;
* ``DELETE /faults`` - remove them all (``?path_prefix=/api`` removes just that one).

A request whose path lies under a fault's prefix (whole segments; the longest prefix wins) is,
with probability ``rate`` (drawn from an injected, seeded RNG), held for ``latency_s`` and then,
when ``status`` is set, answered with that status and a JSON error body instead of reaching the
service. Health, readiness, metrics, the breakers and ``/faults`` itself are never faulted, so
the fleet keeps seeing the instance as it is. ``runtime.fault.injected`` {path_prefix, status}
counts every injected fault (``status`` is ``none`` for latency alone).
"""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from matinee.clock import Clock
from matinee.telemetry.metrics import Counter, Registry

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FAULTS_PATH = "/faults"
# Never faulted: the probes and state the fleet and the tests read, and the fault API itself.
EXEMPT_PATHS = frozenset({FAULTS_PATH, "/healthz", "/readyz", "/metrics"})
EXEMPT_PREFIXES = ("/resilience/",)
MAX_BODY = 64 * 1024


class Fault(BaseModel):
    """One injected failure: optional latency, then an optional status, at some rate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: int | None = Field(default=None, ge=100, le=599, description="answer with this")
    latency_s: float = Field(default=0.0, ge=0, le=300, description="hold the request first")
    rate: float = Field(default=1.0, ge=0, le=1, description="share of matching requests")
    path_prefix: str = Field(default="/", description="paths under it are affected")

    @model_validator(mode="after")
    def _check(self) -> Fault:
        if not self.path_prefix.startswith("/"):
            raise ValueError(f"path_prefix must start with '/', not {self.path_prefix!r}")
        if self.status is None and self.latency_s == 0:
            raise ValueError("a fault needs a status, a latency, or both")
        return self

    def covers(self, path: str) -> bool:
        prefix = self.path_prefix.rstrip("/")
        return not prefix or path == prefix or path.startswith(prefix + "/")


class FaultInjector:
    """The faults in force on one instance, and the decision for each request."""

    def __init__(self, rng: random.Random, metrics: Registry) -> None:
        self._rng = rng
        self._metrics = metrics
        self._faults: dict[str, Fault] = {}
        self._counters: dict[tuple[str, str], Counter] = {}

    def put(self, fault: Fault) -> None:
        self._faults[fault.path_prefix] = fault

    def remove(self, path_prefix: str | None = None) -> int:
        """Remove one fault (by prefix) or all of them; how many were removed."""
        if path_prefix is None:
            count = len(self._faults)
            self._faults.clear()
            return count
        return 1 if self._faults.pop(path_prefix, None) is not None else 0

    def faults(self) -> list[Fault]:
        return sorted(self._faults.values(), key=lambda f: f.path_prefix)

    def pick(self, path: str) -> Fault | None:
        """The fault to inject into a request for ``path`` now, if any (and count it)."""
        if not self._faults or path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES):
            return None
        found = [f for f in self._faults.values() if f.covers(path)]
        if not found:
            return None
        fault = max(found, key=lambda f: len(f.path_prefix))
        if self._rng.random() >= fault.rate:
            return None
        key = (fault.path_prefix, str(fault.status) if fault.status is not None else "none")
        counter = self._counters.get(key)
        if counter is None:
            counter = self._metrics.counter(
                "runtime.fault.injected", path_prefix=key[0], status=key[1]
            )
            self._counters[key] = counter
        counter.inc()
        return fault


class FaultMiddleware:
    """Pure-ASGI middleware: answers ``/faults`` and injects the faults into other requests."""

    def __init__(self, app: ASGIApp, injector: FaultInjector, clock: Clock) -> None:
        self.app = app
        self.injector = injector
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == FAULTS_PATH:
            await self._api(scope, receive, send)
            return
        fault = self.injector.pick(path)
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.latency_s > 0:
            await self.clock.sleep(fault.latency_s)
        if fault.status is None:
            await self.app(scope, receive, send)
            return
        message = f"A fault was injected into {path} (failure-injection testing)."
        await _send_json(send, fault.status, {"error": "injected_fault", "message": message})

    async def _api(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        injector = self.injector
        if method == "GET":
            pass
        elif method == "PUT":
            try:
                fault = Fault.model_validate_json(await _read_body(receive))
            except (ValidationError, ValueError) as exc:
                problem = {"error": "invalid_request", "message": f"Not a valid fault: {exc}"}
                await _send_json(send, 422, problem)
                return
            injector.put(fault)
        elif method == "DELETE":
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            prefix = query.get("path_prefix", [None])[0]
            injector.remove(prefix)
        else:
            problem = {"error": "method_not_allowed", "message": "Use GET, PUT or DELETE."}
            await _send_json(send, 405, problem, [(b"allow", b"GET, PUT, DELETE")])
            return
        await _send_json(send, 200, {"faults": [f.model_dump() for f in injector.faults()]})


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ValueError("the client went away before sending the fault")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise ValueError(f"a fault is at most {MAX_BODY} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send_json(
    send: Send, status: int, body: object, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    data = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
        (b"cache-control", b"no-store"),
        *(extra or ()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
