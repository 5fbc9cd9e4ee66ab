"""The fill controller: ahead of demand, put each region's most popular files on its edges.

A run (during the fill window, once per window, or at once on ``POST
/internal/steering/fill/run``):

1. groups the live edges into clusters (region, cluster); a cluster's budget is the sum of its
   edges' capacities x ``capacity_fraction`` (the rest stays free for pull-through);
2. for each region, predicts popularity with ``cdn.popularity.PopularityModel``: the plays of
   the region's countries (history: the last day at half a day old, the rest of the last
   ``popular_days`` at their middle, decayed by ``half_life_s``) and a newness prior for the
   titles whose window opened within ``newness_days`` or opens within ``lookahead_s``
   (catalog);
3. lists the top titles' files (media) and plans each cluster with ``cdn.popularity.FillPlanner``
   (the previous plan sticks, so fill traffic stays low), spreads the plan over the cluster's
   edges (``planning.place``) and sends each edge its share: ``POST /edge/fill`` with
   ``pin_until`` = now + ``pin_s``. The edge fetches each file from a peer of its cluster
   first, then from the origin.

Progress (``GET /internal/steering/fill``, and the ``steering.fill.bytes`` gauges by cluster and
state) is read from the edges' reports: *done* is the planned bytes of each title the edge now
holds (its inventory), *failed* what an edge refused or could not be sent, *queued* the rest.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from matinee.cdn.edge.config import MEDIA_PREFIX
from matinee.cdn.popularity import FillPlan, FillPlanner, PopularityModel, TitleMedia
from matinee.clock import Clock
from matinee.delivery.tokens import UrlSigner
from matinee.runtime.transport import Transport
from matinee.services.steering.config import SteeringConfig
from matinee.services.steering.edges import Edge, EdgeBoard
from matinee.services.steering.errors import FillUnavailable
from matinee.services.steering.planning import Placement, demand_shape, place, title_media
from matinee.services.steering.sources import FillSources, TitleInfo
from matinee.telemetry.metrics import Registry

log = logging.getLogger(__name__)

DAY_S = 86_400.0
STATES = ("planned", "queued", "done", "failed")


def cluster_id(edge: Edge) -> str:
    return f"{edge.region}/{edge.cluster}"


@dataclass
class ClusterFill:
    """The last run's plan for one cluster, and what became of it."""

    cluster: str
    region: str
    budget_bytes: int = 0
    plan: FillPlan[str] = field(default_factory=FillPlan.empty)
    placement: Placement = field(default_factory=Placement)
    titles: list[str] = field(default_factory=list)
    sent_bytes: dict[str, int] = field(default_factory=dict)  # per edge, accepted by it
    failed_bytes: dict[str, int] = field(default_factory=dict)  # per edge, refused or unsent


FILL_TOKEN_TTL_S = 60.0  # a fill request's token: long enough for a slow edge to read it


class FillController:
    """Plans and pushes fills; one run at a time."""

    def __init__(
        self,
        board: EdgeBoard,
        *,
        sources: FillSources,
        config: SteeringConfig,
        clock: Clock,
        metrics: Registry,
        transport: Transport,
        signer: UrlSigner,
    ) -> None:
        self.board = board
        self.signer = signer  # edges take fills only with a token of the fleet's URL key
        self.sources = sources
        self.config = config
        self.fill = config.fill
        self.clock = clock
        self.metrics = metrics
        self.transport = transport
        self.clusters: dict[str, ClusterFill] = {}
        self.last_run: dict[str, Any] | None = None
        self._lock = asyncio.Lock()
        self._window_done: str | None = None

    # -- a run ------------------------------------------------------------------------------

    async def run(self, reason: str = "admin") -> dict[str, Any]:
        """Plan and push one fill to every cluster of live edges; returns its summary."""
        async with self._lock:
            started = self.clock.time()
            try:
                summary = await self._run(started)
            except FillUnavailable as exc:
                self.metrics.counter("steering.fill.runs", outcome="unavailable").inc()
                self.last_run = {"reason": reason, "started_at": started, "error": str(exc)}
                log.warning("fill run (%s) could not run: %s", reason, exc)
                raise
            self.metrics.counter("steering.fill.runs", outcome="ok").inc()
            self.last_run = {
                "reason": reason,
                "started_at": started,
                "finished_at": self.clock.time(),
                **summary,
            }
            log.info("fill run (%s): %s", reason, json.dumps(summary))
            return self.last_run

    async def _run(self, now: float) -> dict[str, Any]:
        by_cluster: dict[str, list[Edge]] = {}
        for edge in self.board.live():
            if edge.report is not None and edge.report.capacity_bytes > 0:
                by_cluster.setdefault(cluster_id(edge), []).append(edge)
        regions = sorted({edges[0].region for edges in by_cluster.values()})
        media_cache: dict[str, TitleMedia[str]] = {}
        infos: dict[str, TitleInfo | None] = {}
        planned = 0
        for region in regions:
            scores, assets = await self.predict(region, now, infos)
            ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
            ranked = ranked[: self.fill.max_titles]
            media = await self._media([t for t, _ in ranked], assets, media_cache)
            planner = FillPlanner(media.values(), bins=self.fill.bins)
            shape = demand_shape(media.values(), self.fill.bins)
            wanted = {t: s for t, s in ranked if t in media}
            for cid, edges in sorted(by_cluster.items()):
                if edges[0].region != region:
                    continue
                budgets = [(e.edge_id, self._budget(e)) for e in edges]
                previous = self.clusters[cid].plan if cid in self.clusters else None
                plan = planner.plan(wanted, sum(b for _, b in budgets), shape, previous=previous)
                state = ClusterFill(cid, region, sum(b for _, b in budgets), plan)
                state.placement = place(plan.files, budgets)
                state.titles = _titles_of(plan, media)
                self._watch(cid)
                self.clusters[cid] = state
                await self._push(state, edges, now)
                planned += plan.bytes
        return {"clusters": sorted(by_cluster), "regions": regions, "planned_bytes": planned}

    def _budget(self, edge: Edge) -> int:
        capacity = edge.report.capacity_bytes if edge.report else 0
        return int(capacity * self.fill.capacity_fraction)

    async def predict(
        self, region: str, now: float, infos: dict[str, TitleInfo | None]
    ) -> tuple[dict[str, float], dict[str, str]]:
        """Each candidate title's score in ``region`` (plays and newness), and its asset."""
        fill = self.fill
        model = PopularityModel(
            self.clock,
            half_life=fill.half_life_s,
            newness_half_life=fill.newness_half_life_s,
            lookahead=fill.lookahead_s,
        )
        countries = self.config.countries_of(region)
        released: dict[str, float] = {}
        assets: dict[str, str] = {}
        for country in countries:
            recent, week, new = await asyncio.gather(
                self.sources.popular(country, 1, fill.popular_limit),
                self.sources.popular(country, fill.popular_days, fill.popular_limit),
                self.sources.releases(
                    country, now - fill.newness_days * DAY_S, now + fill.lookahead_s
                ),
            )
            for title, plays in recent.items():
                model.record_play(region, title, at=now - DAY_S / 2, weight=plays)
            older_at = now - (fill.popular_days + 1) / 2 * DAY_S
            for title, plays in week.items():
                rest = plays - recent.get(title, 0)
                if rest > 0:
                    model.record_play(region, title, at=older_at, weight=rest)
            for r in new:
                released[r.title_id] = min(r.released_at, released.get(r.title_id, r.released_at))
                assets[r.title_id] = r.asset_id
        unknown = [t for t in model.plays(region) if t not in released]
        found = await asyncio.gather(*(self._info(t, infos) for t in unknown))
        for title, info in zip(unknown, found, strict=True):
            when = info.released_in(countries, now, fill.lookahead_s) if info else None
            if info is not None and info.published and info.asset_id and when is not None:
                released[title] = when
                assets[title] = info.asset_id
        return model.scores(region, released), assets

    async def _info(self, title: str, infos: dict[str, TitleInfo | None]) -> TitleInfo | None:
        if title not in infos:
            infos[title] = await self.sources.title(title)
        return infos[title]

    async def _media(
        self, titles: list[str], assets: dict[str, str], cache: dict[str, TitleMedia[str]]
    ) -> dict[str, TitleMedia[str]]:
        """The files of each title, by its asset (listed once per run)."""

        async def one(title: str) -> None:
            if title not in cache:
                cache[title] = title_media(title, await self.sources.objects(assets[title]))

        await asyncio.gather(*(one(t) for t in titles))
        return {t: cache[t] for t in titles}

    async def _push(self, state: ClusterFill, edges: list[Edge], now: float) -> None:
        pin_until = now + self.fill.pin_s if self.fill.pin_s > 0 else None
        by_id = {e.edge_id: e for e in edges}

        async def send(edge: Edge, files: dict[str, int]) -> None:
            keys = list(files)
            step = self.fill.keys_per_request
            for i in range(0, len(keys), step):
                chunk = keys[i : i + step]
                size = sum(files[k] for k in chunk)
                body = json.dumps({"keys": chunk, "pin_until": pin_until}).encode()
                token, _ = self.signer.issue(MEDIA_PREFIX, FILL_TOKEN_TTL_S)
                headers = [
                    ("content-type", "application/json"),
                    ("authorization", f"Bearer {token}"),
                ]
                try:
                    response = await self.transport.request(
                        "POST",
                        edge.base_url + "/edge/fill",
                        headers,
                        body,
                        5.0,
                    )
                    ok = response.status in (200, 202)
                except Exception as exc:  # noqa: BLE001 - the edge is unreachable: counted
                    log.warning("fill of %s could not be sent: %s", edge.edge_id, exc)
                    ok = False
                target = state.sent_bytes if ok else state.failed_bytes
                target[edge.edge_id] = target.get(edge.edge_id, 0) + size
                outcome = "accepted" if ok else "failed"
                self.metrics.counter("steering.fill.pushed", outcome=outcome).inc(len(chunk))

        await asyncio.gather(
            *(send(by_id[e], files) for e, files in state.placement.by_edge.items() if files)
        )

    # -- progress ---------------------------------------------------------------------------

    def progress(self, cid: str) -> dict[str, int]:
        """Bytes of the cluster's last plan: planned, queued, done, failed."""
        state = self.clusters.get(cid)
        if state is None:
            return dict.fromkeys(STATES, 0)
        done = 0
        for edge_id in state.placement.by_edge:
            edge = self.board.edges.get(edge_id)
            for prefix, wanted in state.placement.prefix_bytes(edge_id).items():
                done += min(wanted, edge.held(prefix)) if edge else 0
        failed = sum(state.failed_bytes.values()) + sum(state.placement.unplaced.values())
        planned = state.plan.bytes
        queued = max(planned - done - failed, 0)
        return {"planned": planned, "queued": queued, "done": done, "failed": failed}

    def status(self) -> dict[str, Any]:
        clusters = []
        for cid, state in sorted(self.clusters.items()):
            bytes_ = self.progress(cid)
            clusters.append(
                {
                    "cluster": cid,
                    "region": state.region,
                    "budget_bytes": state.budget_bytes,
                    "planned_files": len(state.plan.files),
                    "titles": state.titles,
                    **{f"{k}_bytes": v for k, v in bytes_.items()},
                    "edges": {
                        e: {"planned_bytes": state.placement.bytes_on(e)}
                        for e in sorted(state.placement.by_edge)
                    },
                }
            )
        window = {"start_hour": self.fill.start_hour, "end_hour": self.fill.end_hour}
        return {"window": window, "last_run": self.last_run, "clusters": clusters}

    def _watch(self, cid: str) -> None:
        if cid in self.clusters:
            return

        def reader(state: str) -> Callable[[], float]:
            return lambda: float(self.progress(cid)[state])

        for state in STATES:
            self.metrics.gauge_fn("steering.fill.bytes", reader(state), cluster=cid, state=state)

    # -- the window -------------------------------------------------------------------------

    def window_key(self, now: float) -> str | None:
        """The UTC date the current fill window began on (None: outside the window)."""
        moment = datetime.fromtimestamp(now, UTC)
        if not self.fill.in_window(moment.hour):
            return None
        wraps = self.fill.start_hour > self.fill.end_hour
        if wraps and moment.hour < self.fill.end_hour:
            moment -= timedelta(days=1)
        return moment.date().isoformat()

    async def tick(self) -> bool:
        """Run once if the window is open and has not had its run yet; True if it ran."""
        key = self.window_key(self.clock.time())
        if key is None or key == self._window_done:
            return False
        try:
            await self.run("window")
        except FillUnavailable:
            return False  # tried again at the next check
        self._window_done = key
        return True


def _titles_of(plan: FillPlan[str], media: dict[str, TitleMedia[str]]) -> list[str]:
    """Titles with at least one file in the plan, by id."""
    keys = plan.files
    return sorted(
        t for t, m in media.items() if any(k in keys for r in m.renditions for k in r.keys)
    )
