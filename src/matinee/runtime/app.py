"""The one factory that turns a service into an ASGI app, the same in every topology.

A service is a :class:`ServiceSpec`: a name and a ``build`` function that receives a
:class:`ServiceContext` (settings, clock, metrics, clients for other services, ...) and returns
its routers. :func:`create_service_app` adds what every service has:

* ``GET /healthz`` (alive) and ``GET /readyz`` (200 once registered with discovery, 503 while
  starting or shutting down), OpenAPI at ``/openapi.json`` and ``/docs``;
* ``GET /metrics`` (Prometheus text) and the ``/api/telemetry`` queries, ``/resilience/*``;
* per request: the W3C trace context and request id made current (``runtime.tracing``), an
  ``x-request-id`` response header, the ``ipc.server.call`` timer {service, route, status},
  an adaptive concurrency limit (503 + Retry-After beyond it), JSON error bodies
  ``{"error": code, "message": plain words, "request_id": id}`` - never a stack trace;
* ``/faults`` (failure injection, ``runtime.faults``) when ``RuntimeConfig.fault_injection``;
* a :class:`ServiceRuntime` (``runtime.lifecycle``) that starts (the lifespans ``build``
  added, then registration) and stops gracefully (deregister, drain, close). Servers and the
  monolith drive it; served on its own (uvicorn, tests), the app's ASGI lifespan drives it.

:func:`build_instance` makes either kind of service (routers, or a whole ASGI app such as the
gateway) into a :class:`ServiceInstance`: the app to serve and the runtime to start and stop.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from matinee.errors import MatineeError
from matinee.gateway.errors import error_response
from matinee.resilience import stream as resilience_stream
from matinee.resilience.errors import ResilienceError
from matinee.resilience.limits import Gradient2Limit, Limiter
from matinee.resilience.middleware import ConcurrencyLimitMiddleware
from matinee.runtime import tracing
from matinee.runtime.context import LimitConfig, ServiceContext
from matinee.runtime.faults import FaultInjector, FaultMiddleware
from matinee.runtime.lifecycle import ServiceRuntime, asgi_lifespan
from matinee.runtime.transport import ASGIApp, Message, Receive, Scope, Send
from matinee.telemetry import api as telemetry_api
from matinee.telemetry.metrics import Timer

log = logging.getLogger(__name__)

ErrorTable = Sequence[tuple[type[Exception], int]]
Routers = APIRouter | Sequence[APIRouter]

EXEMPT_PATHS = ("/healthz", "/readyz", "/metrics", "/resilience/stream")


@dataclass(frozen=True)
class ServiceSpec:
    """What a service is: ``build`` returns its routers, or ``asgi`` returns a whole ASGI app
    of its own (the gateway, which must not pay for framework routing). ``errors`` maps the
    service's error types to HTTP statuses (first match wins); ``register=False`` keeps it out
    of discovery (the registry itself)."""

    name: str
    build: Callable[[ServiceContext], Routers] | None = None
    asgi: Callable[[ServiceContext], ASGIApp] | None = None
    depends_on: tuple[str, ...] = ()
    errors: ErrorTable = ()
    register: bool = True
    description: str = ""

    def __post_init__(self) -> None:
        if (self.build is None) == (self.asgi is None):
            raise ValueError(f"service {self.name!r} needs exactly one of build and asgi")


def _code(name: str) -> str:
    """``ObjectNotFound`` -> ``object_not_found``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
}


def _error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Any:
    body = {"error": code, "message": message, "request_id": tracing.current_request_id()}
    return JSONResponse(body, status_code=status, headers=headers)


class ServerMiddleware:
    """Outermost per-request work: trace context, request id, in-flight count, the timer."""

    def __init__(self, app: ASGIApp, runtime: ServiceRuntime) -> None:
        self.app = app
        self.runtime = runtime
        self.service = runtime.name
        self._metrics = runtime.ctx.metrics
        self._clock = runtime.ctx.clock
        self._timers: dict[tuple[str, int], Timer] = {}

    def _timer(self, route: str, status: int) -> Timer:
        key = (route, status)
        timer = self._timers.get(key)
        if timer is None:
            timer = self._metrics.timer(
                "ipc.server.call", service=self.service, route=route, status=str(status)
            )
            self._timers[key] = timer
        return timer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trace, request_id = tracing.extract_asgi(scope["headers"])
        binding = tracing.bind(trace, request_id)
        rid_header = (b"x-request-id", request_id.encode("latin-1"))
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", ()), rid_header]
            await send(message)

        runtime = self.runtime
        runtime.request_started()
        start = self._clock.monotonic()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            runtime.request_finished()
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self._timer(route, status).record(self._clock.monotonic() - start)
            tracing.unbind(binding)


def _install_errors(app: FastAPI, table: ErrorTable) -> None:
    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> Any:
        code = _STATUS_CODES.get(exc.status_code, "error" if exc.status_code < 500 else "failed")
        return _error(exc.status_code, code, str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Any:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
            for e in exc.errors()
        )
        return _error(422, "invalid_request", f"The request is not valid: {problems}")

    @app.exception_handler(ResilienceError)
    async def _dependency(_: Request, exc: ResilienceError) -> Any:
        # A call to another service failed with no fallback: answer as the gateway would.
        mapped = error_response(exc, tracing.current_request_id() or "")
        response = JSONResponse(None, status_code=mapped.status)
        response.body = mapped.body
        for key, value in mapped.headers:
            response.headers[key] = value
        response.headers["content-length"] = str(len(mapped.body))
        return response

    @app.exception_handler(MatineeError)
    async def _matinee(_: Request, exc: MatineeError) -> Any:
        status = next((code for kind, code in table if isinstance(exc, kind)), 500)
        if status >= 500:
            log.error("request failed: %s", exc, exc_info=exc)
        code = getattr(exc, "code", None)  # an error may name its own reason code
        if not isinstance(code, str):
            code = _code(type(exc).__name__)
        return _error(status, code, str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Any:
        log.error("request failed unexpectedly", exc_info=exc)
        return _error(500, "internal", "The service failed unexpectedly.")


def runtime_routers(service: str, ctx: ServiceContext, runtime: ServiceRuntime) -> list[APIRouter]:
    """What every instance answers, whatever the service: health, readiness, metrics (Prometheus
    and the time-series query API) and the live state of its breakers."""
    probes = APIRouter(tags=["runtime"])

    @probes.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Alive: the process answers."""
        return {"status": "UP", "service": service, "instance": ctx.instance_id}

    @probes.get("/readyz")
    async def readyz() -> Any:
        """Ready: registered with discovery and not shutting down."""
        body = {"service": service, "instance": ctx.instance_id, "inflight": runtime.inflight}
        if runtime.ready:
            return {"status": "UP", **body}
        return JSONResponse({"status": "DOWN", **body}, status_code=503)

    return [
        probes,
        telemetry_api.router(ctx.metrics, ctx.series),
        resilience_stream.router(ctx.dependencies, ctx.clock),
    ]


def fault_injector(ctx: ServiceContext) -> FaultInjector | None:
    """The instance's fault injector when fault injection is on (``runtime.faults``); its RNG
    is seeded with the instance id, so a run can be repeated."""
    if not ctx.config.fault_injection:
        return None
    log.warning("fault injection is on: %s answers /faults", ctx.instance_id)
    rng = random.Random(ctx.instance_id)  # noqa: S311 - picks requests to fault, not a secret
    return FaultInjector(rng, ctx.metrics)


def create_service_app(spec: ServiceSpec, ctx: ServiceContext) -> FastAPI:
    """The service's ASGI app; its :class:`ServiceRuntime` is ``app.state.runtime``."""
    if spec.build is None:
        raise ValueError(f"service {spec.name!r} is an ASGI app of its own: use build_instance")
    runtime = ServiceRuntime(spec.name, ctx, register=spec.register)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title=f"matinee {spec.name}",
        description=spec.description,
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    _install_errors(app, spec.errors)

    for router in runtime_routers(spec.name, ctx, runtime):
        app.include_router(router)
    built = spec.build(ctx)
    for router in [built] if isinstance(built, APIRouter) else built:
        app.include_router(router)

    limits = ctx.config.limit
    if limits.enabled:
        limiter = Limiter(
            Gradient2Limit(
                initial_limit=limits.initial, min_limit=limits.min, max_limit=limits.max
            ),
            ctx.clock,
            metrics=ctx.metrics,
            name=spec.name,
        )
        app.add_middleware(
            ConcurrencyLimitMiddleware,
            limiter=limiter,
            metrics=ctx.metrics,
            exempt_paths=EXEMPT_PATHS,
        )
    injector = fault_injector(ctx)
    if injector is not None:  # inside the server middleware: faults are timed and traced
        app.add_middleware(FaultMiddleware, injector=injector, clock=ctx.clock)
    app.add_middleware(ServerMiddleware, runtime=runtime)
    return app


def runtime_of(app: FastAPI) -> ServiceRuntime:
    """The runtime :func:`create_service_app` attached to ``app``."""
    runtime = app.state.runtime
    if not isinstance(runtime, ServiceRuntime):
        raise TypeError("this app was not made by create_service_app")
    return runtime


class RuntimeLifespan:
    """Wraps a service that is an ASGI app of its own: an ASGI lifespan drives its runtime;
    the runtime's own endpoints (``endpoints``: health, readiness, metrics, breakers, OpenAPI)
    are answered first, by exact path or prefix, and all other HTTP goes straight through."""

    _PREFIXES = ("/resilience/", "/api/telemetry/")

    def __init__(self, app: ASGIApp, runtime: ServiceRuntime, endpoints: ASGIApp) -> None:
        self.app = app
        self.runtime = runtime
        self.endpoints = endpoints
        self._exact = frozenset(
            {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect"}
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            path = scope.get("path", "")
            if path in self._exact or path.startswith(self._PREFIXES):
                await self.endpoints(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.runtime.start()
                except Exception as exc:
                    log.exception("%s failed to start", self.runtime.name)
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.runtime.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


@dataclass(frozen=True)
class ServiceInstance:
    """One instance ready to serve: ``app`` for the server, ``runtime`` to start and stop it."""

    spec: ServiceSpec
    app: ASGIApp
    runtime: ServiceRuntime


def build_instance(spec: ServiceSpec, ctx: ServiceContext) -> ServiceInstance:
    """Either kind of service as an app whose ASGI lifespan (or ``runtime``) starts and stops
    it. A whole-ASGI service's own lifespan runs inside the runtime's."""
    if spec.build is not None:
        app = create_service_app(spec, ctx)
        return ServiceInstance(spec, app, runtime_of(app))
    assert spec.asgi is not None  # noqa: S101 - ServiceSpec checks it has exactly one
    inner = spec.asgi(ctx)
    ctx.add_lifespan(lambda: asgi_lifespan(inner))
    runtime = ServiceRuntime(spec.name, ctx, register=spec.register)
    endpoints = FastAPI(title=f"matinee {spec.name}", description=spec.description)
    for router in runtime_routers(spec.name, ctx, runtime):
        endpoints.include_router(router)
    injector = fault_injector(ctx)
    served = inner if injector is None else FaultMiddleware(inner, injector, ctx.clock)
    return ServiceInstance(spec, RuntimeLifespan(served, runtime, endpoints), runtime)


__all__ = [
    "LimitConfig",
    "ServiceContext",
    "ServiceInstance",
    "ServiceRuntime",
    "ServiceSpec",
    "build_instance",
    "create_service_app",
    "runtime_of",
]
