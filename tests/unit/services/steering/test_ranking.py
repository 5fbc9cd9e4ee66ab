"""Ranking: the client region's live edges by score, then the CDN tier, then the origin; an
edge that stops reporting drops out after ``stale_after_s`` (time from a FakeClock)."""

from __future__ import annotations

import asyncio

from matinee.clock import FakeClock
from matinee.services.steering.config import RankWeights, SteeringConfig
from matinee.services.steering.edges import EdgeBoard
from matinee.services.steering.ranking import Ranker
from matinee.services.steering.regions import RegionMap
from matinee.services.steering.tier import CdnTier
from matinee.telemetry.metrics import Registry

from .fakes import EdgeNetwork, FakeEdge

PREFIX = "media/assets/a1/"
CONFIG = SteeringConfig.model_validate(
    {
        "default_region": "local",
        "regions": [
            {"name": "eu", "cidrs": ["198.51.100.0/24"]},
            {"name": "local", "cidrs": ["203.0.113.0/25"], "cluster": "c2"},
        ],
        "stale_after_s": 6,
    }
)


def setup(*edges: FakeEdge, cdn_up: bool = True) -> tuple[FakeClock, EdgeNetwork, Ranker]:
    clock = FakeClock()
    network = EdgeNetwork(*edges, cdn_up=cdn_up)
    board = EdgeBoard(network.instances, network, clock, Registry(clock), stale_after_s=6)
    cdn = CdnTier("http://cdn.test", network, clock)
    return clock, network, Ranker(board, RegionMap(CONFIG), CONFIG.rank, cdn)


async def poll(ranker: Ranker) -> None:
    await ranker.board.poll()
    assert ranker.cdn is not None
    await ranker.cdn.check()


def names(ranker: Ranker, ip: str | None = "127.0.0.1", origin: str = "https://o") -> list[str]:
    return [h.name for h in ranker.rank(ip, PREFIX, origin)]


def test_edges_holding_the_title_and_less_loaded_rank_first() -> None:
    async def main() -> None:
        cold = FakeEdge("e-cold")
        warm_busy = FakeEdge("e-warm-busy", inventory={PREFIX: 900}, inflight=128)
        warm = FakeEdge("e-warm", inventory={PREFIX: 900}, inflight=10)
        partial = FakeEdge("e-partial", inventory={PREFIX: 300, "media/assets/other/": 5000})
        _, _, ranker = setup(cold, warm_busy, warm, partial)
        await poll(ranker)
        hosts = ranker.rank("127.0.0.1", PREFIX, "https://o")
        assert [h.name for h in hosts] == [
            "e-warm",
            "e-warm-busy",
            "e-partial",
            "e-cold",
            "cdn",
            "origin",
        ]
        assert [h.kind for h in hosts] == ["edge"] * 4 + ["cdn", "origin"]
        assert hosts[0].base_url == "https://e-warm.example"
        assert hosts[-1].base_url == "https://o"
        weights = RankWeights()
        # 2 x held/best + 1 x (1 - load): e-warm 2 + (1 - 10/256), e-cold 0 + 1.
        assert hosts[0].score == round(weights.hold + 1 - 10 / 256, 4)
        assert hosts[3].score == 1.0

    asyncio.run(main())


def test_an_overloaded_edge_goes_after_the_others_of_its_region() -> None:
    async def main() -> None:
        hot = FakeEdge("e-hot", inventory={PREFIX: 900}, bytes_out_per_s=1.2e9)
        cold = FakeEdge("e-cold")
        _, _, ranker = setup(hot, cold)
        await poll(ranker)
        assert names(ranker) == ["e-cold", "e-hot", "cdn", "origin"]

    asyncio.run(main())


def test_only_the_clients_region_and_its_own_cluster_first() -> None:
    async def main() -> None:
        eu = FakeEdge("e-eu", region="eu")
        c1 = FakeEdge("e-c1", cluster="c1", inventory={PREFIX: 900})
        c2 = FakeEdge("e-c2", cluster="c2")
        _, _, ranker = setup(eu, c1, c2)
        await poll(ranker)
        assert names(ranker, "198.51.100.4") == ["e-eu", "cdn", "origin"]
        assert names(ranker, "127.0.0.1") == ["e-c1", "e-c2", "cdn", "origin"]
        # A client of the network of cluster c2 gets c2's edge first, whatever c1 holds.
        assert names(ranker, "203.0.113.9") == ["e-c2", "e-c1", "cdn", "origin"]
        # A public address no rule maps: the CDN tier and the origin only.
        assert names(ranker, "8.8.8.8") == ["cdn", "origin"]

    asyncio.run(main())


def test_an_edge_that_stops_reporting_drops_out_and_comes_back() -> None:
    async def main() -> None:
        a = FakeEdge("e-a", inventory={PREFIX: 900})
        b = FakeEdge("e-b")
        clock, _, ranker = setup(a, b)
        await poll(ranker)
        assert names(ranker) == ["e-a", "e-b", "cdn", "origin"]
        a.down = True
        for _ in range(3):  # reports missed for 6 s: still within stale_after_s
            clock.advance(2)
            await poll(ranker)
        assert names(ranker) == ["e-a", "e-b", "cdn", "origin"]
        clock.advance(0.5)  # 6.5 s since its last report
        assert names(ranker) == ["e-b", "cdn", "origin"]
        described = {e["edge_id"]: e for e in ranker.board.describe()}
        assert described["e-a"]["live"] is False
        assert described["e-a"]["missed_reports"] == 3
        a.down = False
        await poll(ranker)
        assert names(ranker) == ["e-a", "e-b", "cdn", "origin"]

    asyncio.run(main())


def test_an_unhealthy_edge_a_removed_edge_and_a_down_cdn_are_not_listed() -> None:
    async def main() -> None:
        sick = FakeEdge("e-sick", healthy=False)
        gone = FakeEdge("e-gone")
        ok = FakeEdge("e-ok")
        _, network, ranker = setup(sick, gone, ok, cdn_up=False)
        await poll(ranker)
        assert names(ranker) == ["e-gone", "e-ok", "origin"]
        del network.edges[gone.base_url]  # left discovery
        network.cdn_up = True
        await poll(ranker)
        assert names(ranker) == ["e-ok", "cdn", "origin"]
        assert names(ranker, origin="") == ["e-ok", "cdn"]

    asyncio.run(main())
