"""The steering service's routes, all internal (the gateway never routes them).

* ``POST /internal/steering/rank`` - the ranked delivery hosts for one play (playback asks);
* ``GET /internal/steering/edges`` - every edge steering knows, live or not, and the CDN tier;
* ``POST /internal/steering/fill/run`` - run a fill now, whatever the window (admin trigger);
* ``GET /internal/steering/fill`` - fill progress per cluster and the last run.
"""

from __future__ import annotations

from fastapi import APIRouter

from matinee.services.steering.fill import FillController
from matinee.services.steering.ranking import Ranker
from matinee.services.steering.schemas import EdgesOut, FillOut, HostOut, RankIn, RankOut
from matinee.telemetry.metrics import Registry


def router(ranker: Ranker, fill: FillController, metrics: Registry) -> APIRouter:
    api = APIRouter(prefix="/internal/steering", tags=["steering internal"])

    @api.post("/rank", summary="Rank delivery hosts for a play")
    async def rank(body: RankIn) -> RankOut:
        """Edges of the client's region (live ones, best first), then the CDN tier, then
        the origin when given."""
        hosts = ranker.rank(body.client_ip, body.prefix, body.origin)
        edges = sum(1 for h in hosts if h.kind == "edge")
        metrics.counter("steering.rank", edges=str(min(edges, 3))).inc()
        return RankOut(
            region=ranker.regions.region_of(body.client_ip),
            hosts=[
                HostOut(name=h.name, base_url=h.base_url, kind=h.kind, score=h.score) for h in hosts
            ],
        )

    @api.get("/edges", summary="Edges and the CDN tier as steering sees them")
    async def edges() -> EdgesOut:
        """Each edge in discovery: region, cluster, live or not, age of its last report, load."""
        cdn = ranker.cdn
        tier = None if cdn is None else {"name": cdn.name, "base_url": cdn.base_url, "up": cdn.up}
        return EdgesOut(edges=ranker.board.describe(), cdn=tier)

    @api.post("/fill/run", summary="Run a fill now")
    async def run_fill() -> FillOut:
        """Predict, plan and push a fill to every cluster now (outside the window too);
        answers once every edge has been sent its share."""
        await fill.run("admin")
        return FillOut.model_validate(fill.status())

    @api.get("/fill", summary="Fill progress")
    async def fill_status() -> FillOut:
        """Per cluster: bytes planned, queued (sent, not on disk yet), done (on the edges'
        disks, by their inventory) and failed (refused, unsent or not placed)."""
        return FillOut.model_validate(fill.status())

    return api
