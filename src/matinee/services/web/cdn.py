"""The CDN view: every edge as steering sees it, the fill's progress and the CDN tier.

Steering polls every edge's report (``services/steering/edges.py``), so the console asks
steering, not the edges: ``GET /internal/steering/edges`` (edges, the CDN tier) and
``GET /internal/steering/fill`` (the fill window, the last run, bytes per cluster), both at
once through ``ctx.clients`` with a counted fallback. When steering does not answer, the parts
it would have filled are empty and ``unavailable`` says why.
"""

from __future__ import annotations

import asyncio
from typing import Any

from matinee.services.web.instances import InstanceCalls, Problem

STEERING = "steering"


def describe_edge(edge: dict[str, Any]) -> dict[str, Any]:
    """One edge for the console: the CDN contract's names (``name``, ``healthy``, ``load``)."""
    live = bool(edge.get("live"))
    return {
        "name": edge.get("edge_id"),
        "region": edge.get("region"),
        "cluster": edge.get("cluster"),
        "public_url": edge.get("public_url"),
        "live": live,
        "healthy": live and bool(edge.get("healthy")),
        "load": {
            "inflight": edge.get("inflight"),
            "bytes_out_per_s": edge.get("bytes_out_per_s"),
            "requests_per_s": edge.get("requests_per_s"),
        },
        "used_bytes": edge.get("used_bytes"),
        "capacity_bytes": edge.get("capacity_bytes"),
        "hit_ratio": edge.get("hit_ratio"),
        "titles": edge.get("titles"),
        "report_age_s": edge.get("report_age_s"),
        "missed_reports": edge.get("missed_reports"),
        "last_error": edge.get("last_error"),
    }


class CdnView:
    def __init__(self, calls: InstanceCalls) -> None:
        self.calls = calls

    async def describe(self) -> dict[str, Any]:
        edges, fill = await asyncio.gather(
            self.calls.service_json(STEERING, "/internal/steering/edges", "edges"),
            self.calls.service_json(STEERING, "/internal/steering/fill", "fill"),
        )
        problems: list[Problem] = [f.problem for f in (edges, fill) if f.problem is not None]
        board: dict[str, Any] = edges.value if edges.ok else {}
        tier = board.get("cdn")
        return {
            "edges": [describe_edge(e) for e in board.get("edges", [])],
            "fill": fill.value if fill.ok else None,
            "cdn_tier": ({"configured": tier is not None, **(tier or {})} if edges.ok else None),
            "unavailable": [p.describe() for p in problems],
        }
