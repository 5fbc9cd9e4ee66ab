from __future__ import annotations

import asyncio
import json

import pytest

from matinee.gateway.app import create_gateway
from matinee.gateway.errors import (
    BadRequest,
    PayloadTooLarge,
    RateLimited,
    RouteNotFound,
    Unauthorized,
    error_response,
)
from matinee.gateway.routes import Route
from matinee.resilience.errors import (
    BulkheadFull,
    CallTimeout,
    CircuitOpen,
    NoInstance,
    Overloaded,
    UpstreamConnectError,
    UpstreamError,
    UpstreamReadTimeout,
    UpstreamStatusError,
)
from matinee.runtime.transport import Response

from .fakes import FakeContext, call

CASES = [
    (NoInstance("none up", dependency="catalog"), 502, "no_instance"),
    (UpstreamConnectError("refused", dependency="catalog"), 502, "upstream_unreachable"),
    (UpstreamError("odd", dependency="catalog"), 502, "bad_gateway"),
    (CircuitOpen("open", dependency="catalog"), 503, "circuit_open"),
    (BulkheadFull("full", dependency="catalog"), 503, "bulkhead_full"),
    (Overloaded("busy", retry_after=2.0, dependency="catalog"), 503, "overloaded"),
    (UpstreamReadTimeout("slow", dependency="catalog"), 504, "upstream_timeout"),
    (CallTimeout("slow", dependency="catalog"), 504, "timeout"),
    (BadRequest("bad"), 400, "bad_request"),
    (Unauthorized("who"), 401, "unauthorized"),
    (RouteNotFound("where"), 404, "not_found"),
    (PayloadTooLarge("big"), 413, "payload_too_large"),
    (RateLimited("slow down", retry_after=0.2), 429, "rate_limited"),
]


@pytest.mark.parametrize(("error", "status", "code"), CASES)
def test_every_failure_maps_to_a_status_and_plain_json(
    error: Exception, status: int, code: str
) -> None:
    response = error_response(error, "req-1")
    assert response.status == status
    assert response.header("content-type") == "application/json"
    body = response.json()
    assert isinstance(body, dict)
    assert body["error"] == code
    assert body["request_id"] == "req-1"
    assert body["message"]
    assert "Traceback" not in body["message"]
    if isinstance(error, Overloaded | RateLimited):
        assert response.header("retry-after") in ("1", "2")


def test_messages_name_the_service_in_plain_words() -> None:
    body = error_response(NoInstance("x", dependency="catalog"), "r").json()
    assert body == {
        "error": "no_instance",
        "message": "No instance of the catalog service is available right now.",
        "request_id": "r",
    }
    timeout = error_response(CallTimeout("x", dependency="catalog"), "r").json()
    assert isinstance(timeout, dict)
    assert timeout["message"] == "The catalog service did not answer in time."


def test_upstream_5xx_is_passed_through() -> None:
    upstream = Response(
        503, [("Content-Type", "text/plain"), ("Connection", "close")], b"maintenance"
    )
    response = error_response(UpstreamStatusError(upstream, dependency="catalog"), "r")
    assert response.status == 503
    assert response.body == b"maintenance"
    assert response.headers == [("content-type", "text/plain")]


def test_a_bug_is_500_without_a_stack_trace(caplog: pytest.LogCaptureFixture) -> None:
    response = error_response(KeyError("secret internals"), "r")
    assert response.status == 500
    assert b"secret" not in response.body
    assert json.loads(response.body)["error"] == "internal"
    assert "secret internals" in caplog.text  # logged for operators, not sent to clients


@pytest.mark.parametrize(("error", "status", "code"), CASES[:8])
def test_gateway_maps_upstream_failures(error: Exception, status: int, code: str) -> None:
    ctx = FakeContext()
    ctx.clients.answer("catalog", error)
    app = create_gateway(ctx, [Route("/api/catalog", "catalog")], identity_key=b"k")
    reply = asyncio.run(call(app, "GET", "/api/catalog/titles"))
    assert reply.status == status
    assert reply.json()["error"] == code
    assert reply.json()["request_id"] == reply.header("x-request-id")
    assert ctx.metrics.timer("gateway.requests", route="catalog", status=str(status)).count == 1
