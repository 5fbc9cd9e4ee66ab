"""SteeringClient: the steering service's ranking, or the origin alone (counted) when it
cannot answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import pytest

from matinee.clock import FakeClock
from matinee.delivery.steering import DeliveryHost, SteeringClient, SteeringRequest
from matinee.resilience.errors import NoInstance
from matinee.runtime.transport import Response
from matinee.telemetry.metrics import Registry

REQUEST = SteeringRequest(
    "https://matinee.example", "t1", "media/assets/a1/", client_ip="203.0.113.7", country="US"
)


class Steering:
    """Answers as the steering service would, or fails as told."""

    def __init__(self, answer: Response | Exception) -> None:
        self.answer = answer
        self.bodies: list[dict[str, object]] = []

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: Sequence[tuple[str, str]] | None = None,
        body: bytes = b"",
        idempotent: bool | None = None,
        attempt_timeout: float | None = None,
    ) -> Response:
        assert (method, path, idempotent) == ("POST", "/internal/steering/rank", True)
        self.bodies.append(json.loads(body))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def hosts_body(*hosts: tuple[str, str, str]) -> bytes:
    return json.dumps(
        {"region": "r", "hosts": [{"name": n, "base_url": u, "kind": k} for n, u, k in hosts]}
    ).encode()


def test_the_ranked_hosts_come_from_steering() -> None:
    steering = Steering(
        Response(
            200,
            [],
            hosts_body(
                ("e1", "http://e1:1/", "edge"),
                ("cdn", "http://cdn", "cdn"),
                ("origin", "https://matinee.example", "origin"),
            ),
        )
    )
    hosts = asyncio.run(SteeringClient(steering).rank(REQUEST))
    assert hosts == [
        DeliveryHost("e1", "http://e1:1", "edge"),
        DeliveryHost("cdn", "http://cdn", "cdn"),
        DeliveryHost("origin", "https://matinee.example", "origin"),
    ]
    assert steering.bodies == [
        {
            "client_ip": "203.0.113.7",
            "country": "US",
            "title_id": "t1",
            "prefix": "media/assets/a1/",
            "origin": "https://matinee.example",
        }
    ]


def test_the_origin_is_always_last() -> None:
    steering = Steering(Response(200, [], hosts_body(("e1", "http://e1", "edge"))))
    hosts = asyncio.run(SteeringClient(steering).rank(REQUEST))
    assert [h.kind for h in hosts] == ["edge", "origin"]


@pytest.mark.parametrize(
    ("answer", "cause"),
    [
        (NoInstance("no steering instance is up"), "NoInstance"),
        (Response(500, [], b"{}"), "ValueError"),
        (Response(200, [], b"not json"), "JSONDecodeError"),
        (Response(200, [], b'{"hosts": [{"name": "x"}]}'), "KeyError"),
        (Response(200, [], hosts_body(("x", "http://x", "satellite"))), "ValueError"),
    ],
)
def test_without_an_answer_the_origin_serves_and_it_is_counted(
    answer: Response | Exception, cause: str
) -> None:
    metrics = Registry(FakeClock())
    client = SteeringClient(Steering(answer), metrics)
    for _ in range(2):
        hosts = asyncio.run(client.rank(REQUEST))
        assert hosts == [DeliveryHost("origin", "https://matinee.example", "origin")]
    assert metrics.counter("delivery.steering.fallback", cause=cause).value == 2
