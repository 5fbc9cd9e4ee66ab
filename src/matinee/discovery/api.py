"""Eureka's REST API over the registry (``ApplicationsResource``, ``InstanceResource``).

=========================================  =================================================
``POST   /eureka/apps/{app}``              register (JSON body ``{"instance": ...}``) -> 204
``PUT    /eureka/apps/{app}/{id}``         renew -> 200, 404 unknown (register again), 409
``DELETE /eureka/apps/{app}/{id}``         cancel -> 200, 404
``GET    /eureka/apps``                    the whole registry
``GET    /eureka/apps/delta``              recent changes + the whole registry's hash code
``GET    /eureka/apps/{app}[/{id}]``       one application, one instance (404 when absent)
``PUT    /eureka/apps/{app}/{id}/status``  ``?value=OUT_OF_SERVICE`` status override
``DELETE /eureka/apps/{app}/{id}/status``  remove the override
``GET    /eureka/instances/{id}``          one instance, any application
``GET    /eureka/vips/{vip}``, ``svips``   instances by (secure) VIP address
=========================================  =================================================

Reads answer JSON when ``Accept`` mentions json and XML otherwise, as Eureka does (py_eureka_client
sends no ``Accept`` and parses XML). A call carrying ``x-netflix-discovery-replication: true``
came from a peer: it is applied and never replicated again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from matinee.discovery import xmlcodec
from matinee.discovery.errors import InvalidInstance
from matinee.discovery.lease import RenewResult
from matinee.discovery.models import Application, Applications, InstanceInfo, InstanceStatus
from matinee.discovery.peers import REPLICATION_HEADER
from matinee.discovery.registry import Registry
from matinee.discovery.replication import Replicator

JSON_TYPE = "application/json"
XML_TYPE = "application/xml"


def _wants_json(request: Request) -> bool:
    return "json" in request.headers.get("accept", "")


def _is_replication(request: Request) -> bool:
    return request.headers.get(REPLICATION_HEADER, "").lower() == "true"


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


def _not_found(what: str) -> JSONResponse:
    return _error(404, "not_found", f"the registry has no {what}")


def _dirty(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise InvalidInstance(f"lastDirtyTimestamp {value!r} is not a number") from exc


def _status(value: str | None) -> InstanceStatus:
    try:
        return InstanceStatus(str(value).upper())
    except ValueError as exc:
        raise InvalidInstance(f"{value!r} is not an instance status") from exc


def _render(
    request: Request, status: int, as_json: Callable[[], Any], as_xml: Callable[[], str]
) -> Response:
    if _wants_json(request):
        return Response(json.dumps(as_json()).encode(), status, media_type=JSON_TYPE)
    return Response(xmlcodec.document(as_xml()), status, media_type=XML_TYPE)


def _instance(request: Request, info: InstanceInfo, status: int = 200) -> Response:
    return _render(
        request, status, lambda: {"instance": info.to_json()}, lambda: xmlcodec.instance_xml(info)
    )


def _application(request: Request, app: Application) -> Response:
    return _render(
        request, 200, lambda: {"application": app.to_json()}, lambda: xmlcodec.application_xml(app)
    )


def _applications(request: Request, apps: Applications) -> Response:
    return _render(request, 200, apps.to_json, lambda: xmlcodec.applications_xml(apps))


class _Payloads:
    """Encoded full registry and delta, rebuilt only when the registry's version moves."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._cache: dict[tuple[str, bool], tuple[int, bytes]] = {}

    def get(self, request: Request, kind: str) -> Response:
        as_json = _wants_json(request)
        version = self._registry.version
        hit = self._cache.get((kind, as_json))
        if hit is None or hit[0] != version:
            apps = self._registry.applications() if kind == "full" else self._registry.delta()
            body = (
                json.dumps(apps.to_json()).encode()
                if as_json
                else xmlcodec.document(xmlcodec.applications_xml(apps))
            )
            hit = (version, body)
            self._cache[kind, as_json] = hit
        return Response(hit[1], 200, media_type=JSON_TYPE if as_json else XML_TYPE)


def router(registry: Registry, replicator: Replicator | None = None) -> APIRouter:  # noqa: PLR0915 - one closure per Eureka operation
    """Eureka's operations under ``/eureka`` for ``registry``; ``replicator`` tells the peers."""
    api = APIRouter(prefix="/eureka", tags=["discovery"])
    payloads = _Payloads(registry)

    def replicate(request: Request) -> Replicator | None:
        return None if _is_replication(request) else replicator

    @api.get("/apps")
    @api.get("/apps/", include_in_schema=False)
    async def get_apps(request: Request) -> Response:
        return payloads.get(request, "full")

    @api.get("/apps/delta")
    async def get_delta(request: Request) -> Response:
        return payloads.get(request, "delta")

    @api.get("/apps/{app}")
    async def get_app(app: str, request: Request) -> Response:
        found = registry.get_application(app)
        return _not_found(f"application {app}") if found is None else _application(request, found)

    @api.post("/apps/{app}", status_code=204)
    async def register(app: str, request: Request) -> Response:
        if "xml" in request.headers.get("content-type", ""):
            return _error(415, "unsupported_media_type", "send the registration as JSON")
        try:
            info = InstanceInfo.from_json(json.loads(await request.body()))
            info.validate()
        except (ValueError, InvalidInstance) as exc:
            return _error(400, "invalid_instance", str(exc))
        if info.app != app.upper():
            message = f"mismatched app name: expecting {app.upper()} but was {info.app}"
            return _error(400, "invalid_instance", message)
        stored = registry.register(info, replication=_is_replication(request))
        if (peers := replicate(request)) is not None:
            peers.register(stored)
        return Response(status_code=204)

    @api.get("/apps/{app}/{instance_id}")
    async def get_instance(app: str, instance_id: str, request: Request) -> Response:
        found = registry.get_instance(app, instance_id)
        return _not_found(f"instance {instance_id}") if found is None else _instance(request, found)

    @api.put("/apps/{app}/{instance_id}")
    async def renew(
        app: str,
        instance_id: str,
        request: Request,
        last_dirty: str | None = Query(default=None, alias="lastDirtyTimestamp"),
        overridden: str | None = Query(default=None, alias="overriddenstatus"),
    ) -> Response:
        try:
            dirty = _dirty(last_dirty)
        except InvalidInstance as exc:
            return _error(400, "invalid_request", str(exc))
        result = registry.renew(
            app,
            instance_id,
            last_dirty_timestamp=dirty,
            overridden_status=InstanceStatus.parse(overridden) if overridden else None,
            replication=_is_replication(request),
        )
        if result is RenewResult.CONFLICT:
            ours = registry.get_instance(app, instance_id)
            if ours is not None:
                return _instance(request, ours, 409)
        if result is not RenewResult.RENEWED:
            return _not_found(f"lease for {instance_id}: register again")
        if (peers := replicate(request)) is not None:
            peers.heartbeat(app, instance_id)
        return Response(status_code=200)

    @api.delete("/apps/{app}/{instance_id}")
    async def cancel(app: str, instance_id: str, request: Request) -> Response:
        if not registry.cancel(app, instance_id, replication=_is_replication(request)):
            return _not_found(f"instance {instance_id}")
        if (peers := replicate(request)) is not None:
            peers.cancel(app, instance_id)
        return Response(status_code=200)

    @api.put("/apps/{app}/{instance_id}/status")
    async def set_status(
        app: str,
        instance_id: str,
        request: Request,
        value: str | None = None,
        last_dirty: str | None = Query(default=None, alias="lastDirtyTimestamp"),
    ) -> Response:
        if registry.get_instance(app, instance_id) is None:
            return _not_found(f"instance {instance_id}")
        try:
            status, dirty = _status(value), _dirty(last_dirty)
        except InvalidInstance as exc:
            return _error(400, "invalid_request", str(exc))
        registry.set_status(app, instance_id, status, last_dirty_timestamp=dirty)
        if (peers := replicate(request)) is not None:
            peers.status_update(app, instance_id, status)
        return Response(status_code=200)

    @api.delete("/apps/{app}/{instance_id}/status")
    async def delete_status_override(
        app: str,
        instance_id: str,
        request: Request,
        value: str | None = None,
        last_dirty: str | None = Query(default=None, alias="lastDirtyTimestamp"),
    ) -> Response:
        if registry.get_instance(app, instance_id) is None:
            return _not_found(f"instance {instance_id}")
        try:
            status = _status(value) if value else InstanceStatus.UNKNOWN
            dirty = _dirty(last_dirty)
        except InvalidInstance as exc:
            return _error(400, "invalid_request", str(exc))
        registry.delete_status_override(
            app, instance_id, new_status=status, last_dirty_timestamp=dirty
        )
        if (peers := replicate(request)) is not None:
            peers.delete_status_override(app, instance_id)
        return Response(status_code=200)

    @api.get("/status")
    async def status() -> dict[str, object]:
        """This peer's own state (Eureka's status page, as JSON): its registry's size, the
        renewals against the self-preservation threshold, and its replication peers."""
        sp = registry.preservation
        apps = registry.applications().applications
        return {
            "apps": len(apps),
            "instances": sum(len(app.instances) for app in apps),
            "renews_last_window": sp.renews_last_window,
            "renew_threshold": sp.threshold,
            "self_preservation": sp.active,
            "replicas": [] if replicator is None else replicator.describe(),
        }

    @api.get("/instances/{instance_id}")
    async def find_instance(instance_id: str, request: Request) -> Response:
        found = registry.find_instance(instance_id)
        return _not_found(f"instance {instance_id}") if found is None else _instance(request, found)

    @api.get("/vips/{vip}")
    async def by_vip(vip: str, request: Request) -> Response:
        found = [i for i in registry.applications().instances() if i.vip_address == vip]
        return _applications(request, Applications.of(found, version=registry.version))

    @api.get("/svips/{svip}")
    async def by_secure_vip(svip: str, request: Request) -> Response:
        found = [i for i in registry.applications().instances() if i.secure_vip_address == svip]
        return _applications(request, Applications.of(found, version=registry.version))

    return api


def registry_app(
    registry: Registry, replicator: Replicator | None = None, *, sync_on_start: bool = True
) -> FastAPI:
    """A registry server: the API plus eviction and replication running with the app."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        if replicator is not None:
            if sync_on_start:
                await replicator.sync_from_peers()
            replicator.start()
        housekeeping = asyncio.create_task(registry.run(stop))
        try:
            yield
        finally:
            stop.set()
            await housekeeping
            if replicator is not None:
                await replicator.aclose()

    app = FastAPI(title="matinee registry", lifespan=lifespan)
    app.include_router(router(registry, replicator))
    return app
