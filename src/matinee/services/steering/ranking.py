"""The ranked list of delivery hosts for one play.

1. **Edges of the client's region** (``regions.RegionMap``), live ones only (``edges``):
   those of the client's own cluster first when its network names one, then by score, best
   first, ties by edge id. The score of an edge for a title is::

       hold x (bytes of the title it holds / bytes the region's best holder holds)
     + idle x (1 - load)

   where load is the larger of in-flight requests / ``max_inflight`` and bytes sent per
   second / ``max_bytes_per_s``, capped at 1 (weights in ``config.RankWeights``: 2 and 1, so
   holding the title outweighs any load difference, and among edges that hold it alike the
   less loaded wins). An edge whose load reaches ``overloaded`` (0.9) goes after every other
   edge of the region, whatever it holds.
2. **The third-party CDN tier**, when its health check answers (``tier.CdnTier``).
3. **The origin**, last, when the caller names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from matinee.services.steering.config import RankWeights
from matinee.services.steering.edges import Edge, EdgeBoard
from matinee.services.steering.regions import Place, RegionMap
from matinee.services.steering.tier import CdnTier

Kind = Literal["edge", "cdn", "origin"]


@dataclass(frozen=True, slots=True)
class Ranked:
    """One delivery host on the list."""

    name: str
    base_url: str
    kind: Kind
    score: float | None = None


def load_of(edge: Edge, weights: RankWeights) -> float:
    """How busy the edge said it is, 0 (idle) to 1 (at its limit)."""
    r = edge.report
    if r is None:
        return 1.0
    busy = max(r.inflight / weights.max_inflight, r.bytes_out_per_s / weights.max_bytes_per_s)
    return min(max(busy, 0.0), 1.0)


def score_edges(edges: list[Edge], prefix: str, weights: RankWeights) -> list[tuple[Edge, float]]:
    """Each edge with its score for the title at ``prefix`` (see the module docstring)."""
    best = max((e.held(prefix) for e in edges), default=0)
    scored = []
    for edge in edges:
        hold = edge.held(prefix) / best if best > 0 else 0.0
        scored.append((edge, weights.hold * hold + weights.idle * (1.0 - load_of(edge, weights))))
    return scored


def order_edges(
    edges: list[Edge], place: Place, prefix: str, weights: RankWeights
) -> list[tuple[Edge, float]]:
    """The client's region's edges, best first."""
    if place.region is None:
        return []
    local = [e for e in edges if e.region == place.region]

    def key(item: tuple[Edge, float]) -> tuple[bool, bool, float, str]:
        edge, score = item
        other_cluster = place.cluster is not None and edge.cluster != place.cluster
        overloaded = load_of(edge, weights) >= weights.overloaded
        return (other_cluster, overloaded, -score, edge.edge_id)

    return sorted(score_edges(local, prefix, weights), key=key)


class Ranker:
    """Ranks the hosts for a play from the live edges, the CDN tier and the origin."""

    def __init__(
        self, board: EdgeBoard, regions: RegionMap, weights: RankWeights, cdn: CdnTier | None
    ) -> None:
        self.board = board
        self.regions = regions
        self.weights = weights
        self.cdn = cdn

    def rank(self, client_ip: str | None, prefix: str, origin: str | None = None) -> list[Ranked]:
        place = self.regions.place_of(client_ip)
        hosts = [
            Ranked(edge.edge_id, edge.public_url, "edge", round(score, 4))
            for edge, score in order_edges(self.board.live(), place, prefix, self.weights)
        ]
        if self.cdn is not None and self.cdn.up:
            hosts.append(Ranked(self.cdn.name, self.cdn.base_url, "cdn"))
        if origin:
            hosts.append(Ranked("origin", origin.rstrip("/"), "origin"))
        return hosts
