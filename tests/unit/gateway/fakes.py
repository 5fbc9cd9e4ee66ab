"""Test doubles for the gateway's collaborators, and a way to call the ASGI app directly."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from matinee.clock import FakeClock
from matinee.gateway.app import Gateway
from matinee.runtime import tracing
from matinee.runtime.transport import Response
from matinee.telemetry.metrics import Registry


@dataclass
class Call:
    """One request as the upstream service received it."""

    service: str
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    idempotent: bool | None

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]


Behaviour = Callable[[Call], Awaitable[Response]]


def ok(value: object = None, status: int = 200) -> Response:
    return Response(status, [("content-type", "application/json")], json.dumps(value).encode())


class FakeUpstream:
    """A service client: like ``ServiceClient`` it adds the tracing headers of a child span."""

    def __init__(self, service: str, owner: FakeUpstreams) -> None:
        self.service = service
        self.owner = owner

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: Sequence[tuple[str, str]] | None = None,
        body: bytes = b"",
        idempotent: bool | None = None,
        call_timeout: float | None = None,
    ) -> Response:
        del call_timeout  # the gateway bounds the call itself too
        sent = [*(headers or ()), *tracing.outgoing_headers()]
        call = Call(self.service, method, path, sent, body, idempotent)
        self.owner.calls.append(call)
        behaviour = self.owner.behaviours.get(self.service)
        if behaviour is None:
            return ok({"service": self.service, "path": path})
        return await behaviour(call)


@dataclass
class FakeUpstreams:
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    def get(self, app: str) -> FakeUpstream:
        return FakeUpstream(app, self)

    def answer(self, service: str, response: Response | Exception) -> None:
        async def behaviour(_: Call) -> Response:
            if isinstance(response, Exception):
                raise response
            return Response(response.status, list(response.headers), response.body)

        self.behaviours[service] = behaviour


@dataclass
class FakeContext:
    clock: FakeClock = field(default_factory=FakeClock)
    metrics: Registry = field(init=False)
    clients: FakeUpstreams = field(default_factory=FakeUpstreams)

    def __post_init__(self) -> None:
        self.metrics = Registry(self.clock)


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def json(self) -> Any:
        return json.loads(self.body)


async def call(
    app: Gateway,
    method: str,
    path: str,
    *,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes | Sequence[bytes] = b"",
    query: str = "",
    client: tuple[str, int] | None = ("203.0.113.7", 40000),
) -> Reply:
    """Drive the ASGI app with one request; ``body`` as a list arrives in chunks."""
    chunks = [body] if isinstance(body, bytes) else list(body)
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        "client": client,
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    await app(scope, receive, send)
    start, rest = sent[0], sent[1:]
    return Reply(
        start["status"],
        [(k.decode(), v.decode()) for k, v in start["headers"]],
        b"".join(m.get("body", b"") for m in rest),
    )
