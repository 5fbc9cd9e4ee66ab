"""The admin console's read API (admin role only): the fleet, the CDN, metric graphs.

* ``GET /api/admin/services?minutes=5`` - discovery's apps and instances, every instance's
  breakers and shed rates (``fleet.py``);
* ``GET /api/admin/cdn`` - the edges, the fill and the CDN tier, from steering (``cdn.py``);
* ``GET /api/admin/metrics/names``, ``/metrics/tags?name=``, ``/metrics/query?name=&tags=
  &group_by=&agg=&minutes=`` - the recent series of every telemetry store (``series.py``).

Each answer is served even when part of it cannot be gathered; ``unavailable`` says what is
missing and why. Nothing here is cached by browsers (``Cache-Control: no-store``).
"""

# No ``from __future__ import annotations`` here: FastAPI must see the ``Admin`` dependency
# (built from this service's Callers inside ``router``) as an object, not as a string.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from matinee.gateway.auth import Identity
from matinee.runtime.context import ServiceContext
from matinee.runtime.identity import Callers
from matinee.services.web.cdn import CdnView
from matinee.services.web.fleet import FleetView
from matinee.services.web.schemas import CdnOut, NamesOut, QueryOut, ServicesOut, TagsOut
from matinee.services.web.series import MetricQuery, MetricsView

ADMIN_ONLY: dict[int | str, dict[str, Any]] = {
    401: {"description": "not signed in"},
    403: {"description": "signed in, but not an administrator"},
}


def _no_store(response: Response) -> None:
    response.headers["cache-control"] = "no-store"


def router(ctx: ServiceContext, fleet: FleetView, cdn: CdnView, metrics: MetricsView) -> APIRouter:
    callers = Callers(ctx)
    Admin = Annotated[Identity, Depends(callers.admin)]  # noqa: N806 - a type alias
    api = APIRouter(prefix="/api/admin", tags=["admin"], responses=ADMIN_ONLY)

    @api.get("/services", summary="Instances, breakers and shed rates", response_model=ServicesOut)
    async def services(
        admin: Admin,
        response: Response,
        minutes: Annotated[float, Query(gt=0, le=180, description="shedding window")] = 5.0,
    ) -> dict[str, Any]:
        """Every app and instance in discovery (status, zone, last renewal), the breakers of
        every instance, and what each gateway and instance shed over the last ``minutes``."""
        del admin
        _no_store(response)
        return await fleet.describe(minutes)

    @api.get("/cdn", summary="Edges, fill and the CDN tier", response_model=CdnOut)
    async def cdn_state(admin: Admin, response: Response) -> dict[str, Any]:
        """Each edge's health, load, disk and hit ratio as steering last saw it; the fill's
        progress per cluster; the third-party CDN tier."""
        del admin
        _no_store(response)
        return await cdn.describe()

    @api.get("/metrics/names", summary="Metric names", response_model=NamesOut)
    async def metric_names(admin: Admin, response: Response) -> dict[str, Any]:
        """Every metric with a recent series in any instance's store."""
        del admin
        _no_store(response)
        return await metrics.names()

    @api.get("/metrics/tags", summary="Tags of one metric", response_model=TagsOut)
    async def metric_tags(
        admin: Admin,
        response: Response,
        name: Annotated[str, Query(min_length=1, max_length=200)],
    ) -> dict[str, Any]:
        """Every tag key of the metric and the values seen with it (to pick a group-by)."""
        del admin
        _no_store(response)
        return await metrics.tags(name)

    @api.get("/metrics/query", summary="Series of one metric", response_model=QueryOut)
    async def metric_query(
        *,
        admin: Admin,
        response: Response,
        name: Annotated[str | None, Query(max_length=200, examples=["ipc.server.call"])] = None,
        tags: Annotated[
            list[str], Query(description="key:value, repeated or comma-separated")
        ] = [],  # noqa: B006 - FastAPI copies defaults
        tag: Annotated[list[str], Query(description="the same as tags")] = [],  # noqa: B006
        group_by: Annotated[list[str], Query(description="tag keys, comma-separated")] = [],  # noqa: B006
        agg: Annotated[str, Query(description="sum, avg, max, min or count")] = "sum",
        minutes: Annotated[float | None, Query(description="how far back (default 60)")] = None,
    ) -> dict[str, Any]:
        """The metric's series over every store, selected by exact tags, grouped by tag keys
        and aggregated point by point (10 s points by default)."""
        del admin
        _no_store(response)
        query = MetricQuery.parse(
            name,
            tags=[*tags, *tag],
            group_by=group_by,
            agg=agg,
            minutes=minutes,
            retention_minutes=metrics.retention_minutes,
        )
        return await metrics.query(query)

    return api
