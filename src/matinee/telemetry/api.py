"""HTTP endpoints of telemetry: the Prometheus scrape and the recent time-series query.

``GET /metrics`` answers the Prometheus text format. With a :class:`SeriesStore`:

* ``GET /api/telemetry/query?name=ipc.server.call&tag=statistic:count&tag=service:media
  &group_by=route&agg=sum&minutes=60`` -> ``{"name", "agg", "group_by", "where", "step",
  "start", "end", "series": [{"tags": {...}, "points": [[t, v], ...]}]}``;
  ``tag`` and ``group_by`` repeat (``group_by`` also takes a comma-separated list);
* ``GET /api/telemetry/names`` -> ``{"names": [...]}``;
* ``GET /api/telemetry/tags?name=...`` -> ``{"name", "tags": {key: [values]}}``.

A bad parameter answers 400 with ``{"error": "bad_request", "message": <plain words>}``.
"""

from __future__ import annotations

import math
import re
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from matinee.telemetry.metrics import Registry
from matinee.telemetry.prometheus import CONTENT_TYPE, render
from matinee.telemetry.series import AGGREGATIONS, QueryError, SeriesStore

_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
_QUERY_PARAMS = frozenset({"name", "tag", "group_by", "agg", "minutes"})


def bad_request(message: str) -> JSONResponse:
    return JSONResponse({"error": "bad_request", "message": message}, status_code=400)


def _unknown(request: Request, allowed: frozenset[str]) -> str | None:
    extra = sorted(set(request.query_params) - allowed)
    if not extra:
        return None
    takes = ", ".join(sorted(allowed)) or "no parameters"
    return f"unknown parameter {extra[0]!r}; this endpoint takes {takes}"


def _parse_name(name: str | None) -> str:
    if not name:
        raise QueryError("the name parameter is required, e.g. name=ipc.server.call")
    if not _NAME.match(name):
        raise QueryError(f"{name!r} is not a metric name (letters, digits, '.', '_', '-', ':')")
    return name


def _parse_tags(tags: list[str]) -> dict[str, str]:
    where: dict[str, str] = {}
    for item in tags:
        key, sep, value = item.partition(":")
        if not sep or not key or not value:
            raise QueryError(f"tag {item!r} should look like key:value, e.g. tag=service:media")
        if key in where and where[key] != value:
            raise QueryError(f"tag {key!r} is given twice with different values")
        where[key] = value
    return where


def _parse_group_by(values: list[str]) -> list[str]:
    keys: list[str] = []
    for value in values:
        for part in value.split(","):
            key = part.strip()
            if not key:
                raise QueryError("group_by has an empty tag key")
            if key not in keys:
                keys.append(key)
    return keys


def _parse_agg(agg: str) -> str:
    if agg not in AGGREGATIONS:
        raise QueryError(f"agg should be one of {', '.join(AGGREGATIONS)}, not {agg!r}")
    return agg


def _parse_minutes(value: str | None, retention: float) -> float:
    if value is None:
        return min(60.0, retention / 60.0)
    try:
        minutes = float(value)
    except ValueError:
        raise QueryError(f"minutes should be a number, not {value!r}") from None
    limit = retention / 60.0
    if not math.isfinite(minutes) or minutes <= 0 or minutes > limit:
        raise QueryError(f"minutes should be more than 0 and at most {limit:g} (the retention)")
    return minutes


def router(registry: Registry, store: SeriesStore | None = None) -> APIRouter:
    """``/metrics`` for ``registry``; the ``/api/telemetry`` queries too when a store is given."""
    api = APIRouter(tags=["telemetry"])

    @api.get("/metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(render(registry), media_type=CONTENT_TYPE)

    if store is None:
        return api

    @api.get("/api/telemetry/query", response_model=None)
    async def query(
        request: Request,
        *,
        name: str | None = None,
        tag: list[str] = Query(default=[]),  # noqa: B008 - FastAPI's way to declare a repeated param
        group_by: list[str] = Query(default=[]),  # noqa: B008 - as above
        agg: str = "sum",
        minutes: str | None = None,
    ) -> JSONResponse:
        unknown = _unknown(request, _QUERY_PARAMS)
        if unknown:
            return bad_request(unknown)
        try:
            metric = _parse_name(name)
            where = _parse_tags(tag)
            keys = _parse_group_by(group_by)
            how = _parse_agg(agg)
            end = store.clock.time()
            start = end - _parse_minutes(minutes, store.retention) * 60.0
            found = store.query(metric, where, group_by=keys, agg=how, start=start, end=end)
        except QueryError as exc:
            return bad_request(str(exc))
        body: dict[str, Any] = {
            "name": metric,
            "agg": agg,
            "where": where,
            "group_by": keys,
            "step": store.step,
            "start": start,
            "end": end,
            "series": [{"tags": s.tags, "points": [list(p) for p in s.points]} for s in found],
        }
        return JSONResponse(body)

    @api.get("/api/telemetry/names", response_model=None)
    async def names(request: Request) -> JSONResponse:
        unknown = _unknown(request, frozenset())
        if unknown:
            return bad_request(unknown)
        return JSONResponse({"names": store.names()})

    @api.get("/api/telemetry/tags", response_model=None)
    async def tags(request: Request, name: str | None = None) -> JSONResponse:
        unknown = _unknown(request, frozenset({"name"}))
        if unknown:
            return bad_request(unknown)
        try:
            metric = _parse_name(name)
        except QueryError as exc:
            return bad_request(str(exc))
        return JSONResponse({"name": metric, "tags": store.tags(metric)})

    return api
