"""The one place where failures become HTTP answers, as Zuul maps them.

=========================  ======  ==========================================
failure                    status  error code
=========================  ======  ==========================================
BadRequest                 400     ``bad_request``
Unauthorized               401     ``unauthorized``
RouteNotFound              404     ``not_found``
PayloadTooLarge            413     ``payload_too_large``
RateLimited                429     ``rate_limited`` (+ Retry-After)
NoInstance                 502     ``no_instance``
UpstreamConnectError       502     ``upstream_unreachable``
CircuitOpen                503     ``circuit_open``
BulkheadFull               503     ``bulkhead_full``
Overloaded (and shedding)  503     ``overloaded`` (+ Retry-After)
UpstreamReadTimeout        504     ``upstream_timeout``
CallTimeout                504     ``timeout``
UpstreamStatusError        5xx     the upstream's own answer, passed through
anything else              500     ``internal`` (logged with its stack trace here, never sent)
=========================  ======  ==========================================

The body is always JSON ``{"error": code, "message": plain words, "request_id": id}``.
"""

from __future__ import annotations

import logging
import math

from matinee.errors import MatineeError
from matinee.gateway.response import GatewayResponse, json_response, passthrough_headers
from matinee.resilience.errors import (
    BulkheadFull,
    CallTimeout,
    CircuitOpen,
    NoInstance,
    Overloaded,
    ResilienceError,
    UpstreamConnectError,
    UpstreamReadTimeout,
    UpstreamStatusError,
)

log = logging.getLogger(__name__)


class GatewayError(MatineeError):
    """A request the gateway itself refuses. Subclasses fix the status and the error code."""

    status = 400
    code = "bad_request"


class BadRequest(GatewayError):
    pass


class Unauthorized(GatewayError):
    status = 401
    code = "unauthorized"


class RouteNotFound(GatewayError):
    status = 404
    code = "not_found"


class PayloadTooLarge(GatewayError):
    status = 413
    code = "payload_too_large"


class RateLimited(GatewayError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def retry_after_header(seconds: float) -> tuple[str, str]:
    """``Retry-After`` in whole seconds (RFC 9110 allows only integers), at least 1."""
    return ("retry-after", str(max(1, math.ceil(seconds))))


def _named(exc: ResilienceError) -> str:
    return f"the {exc.dependency} service" if exc.dependency else "the service"


# (error type, status, code, message) - checked in order, so subclasses come first.
_RESILIENCE: tuple[tuple[type[ResilienceError], int, str, str], ...] = (
    (NoInstance, 502, "no_instance", "No instance of {name} is available right now."),
    (UpstreamConnectError, 502, "upstream_unreachable", "{Name} could not be reached."),
    (CircuitOpen, 503, "circuit_open", "{Name} is failing, so calls to it are paused."),
    (BulkheadFull, 503, "bulkhead_full", "{Name} is busy with too many requests."),
    (Overloaded, 503, "overloaded", "The platform is overloaded; please try again shortly."),
    (UpstreamReadTimeout, 504, "upstream_timeout", "{Name} did not answer in time."),
    (CallTimeout, 504, "timeout", "{Name} did not answer in time."),
)


def error_body(status: int, code: str, message: str, request_id: str) -> GatewayResponse:
    return json_response(status, {"error": code, "message": message, "request_id": request_id})


def error_response(exc: BaseException, request_id: str) -> GatewayResponse:
    """Map any failure to the response the client sees."""
    if isinstance(exc, GatewayError):
        resp = error_body(exc.status, exc.code, str(exc), request_id)
        if isinstance(exc, RateLimited):
            resp.headers.append(retry_after_header(exc.retry_after))
        elif isinstance(exc, Unauthorized):
            resp.headers.append(("www-authenticate", 'Bearer realm="matinee"'))
        return resp
    if isinstance(exc, UpstreamStatusError):
        upstream = exc.response
        headers = passthrough_headers(upstream.headers)
        return GatewayResponse(upstream.status, headers, upstream.body)
    if isinstance(exc, ResilienceError):
        return _resilience_response(exc, request_id)
    log.error("gateway failed on request %s", request_id, exc_info=exc)
    return error_body(500, "internal", "The gateway failed unexpectedly.", request_id)


def _resilience_response(exc: ResilienceError, request_id: str) -> GatewayResponse:
    name = _named(exc)
    for kind, status, code, message in _RESILIENCE:
        if isinstance(exc, kind):
            text = message.format(name=name, Name=name[0].upper() + name[1:])
            resp = error_body(status, code, text, request_id)
            if isinstance(exc, Overloaded):
                resp.headers.append(retry_after_header(exc.retry_after))
            return resp
    # Another ResilienceError (e.g. a plain UpstreamError): the upstream failed somehow.
    text = f"{name[0].upper() + name[1:]} failed to answer."
    return error_body(502, "bad_gateway", text, request_id)
