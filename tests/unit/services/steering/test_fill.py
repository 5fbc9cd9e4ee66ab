"""The fill: predicted popularity per region, planned per cluster up to its capacity, spread
over the cluster's edges - "fill puts the predicted files where it was expected to"."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from matinee.clock import FakeClock
from matinee.delivery.tokens import UrlSigner
from matinee.services.steering.config import SteeringConfig
from matinee.services.steering.edges import EdgeBoard
from matinee.services.steering.fill import FillController
from matinee.services.steering.planning import (
    asset_prefix,
    demand_shape,
    place,
    title_media,
)
from matinee.services.steering.sources import Release, TitleInfo, Window
from matinee.telemetry.metrics import Registry

from .fakes import KEY, EdgeNetwork, FakeCatalog, FakeEdge, rendition_files

DAY = 86_400.0
# 03:00 UTC: inside the default window (02-06).
NOW = datetime(2026, 3, 10, 3, 0, tzinfo=UTC).timestamp()
RUNGS = {"720p": 100, "360p": 40}
CONFIG = SteeringConfig.model_validate(
    {
        "default_region": "us",
        "default_countries": ["US"],
        "regions": [{"name": "eu", "cidrs": ["198.51.100.0/24"], "countries": ["FR"]}],
        "fill": {"pin_s": 3600, "capacity_fraction": 0.8},
    }
)


def files_of(catalog: FakeCatalog, title: str) -> dict[str, int]:
    info = catalog.titles[title]
    assert info.asset_id is not None
    return {f"media/{k}": size for k, size in catalog.assets[info.asset_id]}


def scenario() -> tuple[FakeClock, FakeCatalog, EdgeNetwork, FillController, dict[str, FakeEdge]]:
    clock = FakeClock(start=NOW)
    catalog = FakeCatalog()
    for title in ("hit-us", "hit-fr", "new-fr", "gone"):
        countries = ("FR",) if title.endswith("fr") else ("US", "FR")
        catalog.add_title(title, rendition_files(RUNGS, 10), countries=countries)
    # "gone" was played in the US, but its US window has ended.
    catalog.titles["gone"] = TitleInfo(
        "gone", "a-gone", True, (Window("US", 0.0, NOW - DAY), Window("FR", 0.0, None))
    )
    catalog.plays = {"US": {"hit-us": 90, "gone": 500}, "FR": {"hit-fr": 100}}
    catalog.recent = {"US": {"hit-us": 40}, "FR": {"hit-fr": 50}}
    catalog.releases_by_country = {"FR": [Release("new-fr", "a-new-fr", NOW - DAY)]}
    edges = {
        "us-1": FakeEdge("us-1", region="us", cluster="c1", capacity_bytes=1000),
        "us-2": FakeEdge("us-2", region="us", cluster="c1", capacity_bytes=1000),
        "eu-1": FakeEdge("eu-1", region="eu", cluster="c1", capacity_bytes=2000),
    }
    network = EdgeNetwork(*edges.values())
    board = EdgeBoard(network.instances, network, clock, Registry(clock))
    fill = FillController(
        board,
        sources=catalog,
        config=CONFIG,
        clock=clock,
        metrics=Registry(clock),
        transport=network,
        signer=UrlSigner(KEY, clock),
    )
    return clock, catalog, network, fill, edges


def test_fill_puts_the_predicted_files_where_expected() -> None:
    async def main() -> None:
        _, catalog, _, fill, edges = scenario()
        await fill.board.poll()
        summary = await fill.run("admin")
        assert summary["clusters"] == ["eu/c1", "us/c1"]

        us = {k for e in ("us-1", "us-2") for k in edges[e].filled_keys()}
        eu = set(edges["eu-1"].filled_keys())
        hit_us, hit_fr, new_fr = (files_of(catalog, t) for t in ("hit-us", "hit-fr", "new-fr"))
        # The US cluster (1600 bytes to fill) holds the US hit whole (1455 bytes), and
        # nothing that is not available in the US or that no one there watches.
        assert set(hit_us) <= us
        assert {asset_prefix(k) for k in us} <= {"media/assets/a-hit-us/"}
        # Europe holds the French hit's and the new French title's heads: both manifests
        # and audio, and the first segments of every rendition; nothing of the US hit.
        assert {asset_prefix(k) for k in eu} == {
            "media/assets/a-hit-fr/",
            "media/assets/a-new-fr/",
        }
        for files in (hit_fr, new_fr):
            for name in ("manifest.mpd", "master.m3u8", "audio/en-1/1.m4s"):
                assert next(k for k in files if k.endswith(name)) in eu
            for rung in RUNGS:
                assert next(k for k in files if k.endswith(f"video/{rung}/1.m4s")) in eu
        # The French hit (more plays) comes before the new title's tail.
        assert sum(hit_fr[k] for k in eu & set(hit_fr)) > sum(new_fr[k] for k in eu & set(new_fr))

        # Each file once per cluster, every edge within its share, pinned past the window.
        us_keys = edges["us-1"].filled_keys() + edges["us-2"].filled_keys()
        assert len(us_keys) == len(set(us_keys))
        for edge in edges.values():
            sizes = {**hit_us, **hit_fr, **new_fr}
            assert sum(sizes[k] for k in edge.filled_keys()) <= 0.8 * edge.capacity_bytes
            assert {f["pin_until"] for f in edge.fills} == {NOW + 3600}
        assert edges["us-1"].filled_keys()  # spread over both edges
        assert edges["us-2"].filled_keys()

        status = {c["cluster"]: c for c in fill.status()["clusters"]}
        assert status["us/c1"]["titles"] == ["hit-us"]
        assert status["eu/c1"]["titles"] == ["hit-fr", "new-fr"]
        assert status["us/c1"]["planned_bytes"] == sum(hit_us.values()) == 1455
        assert status["us/c1"]["done_bytes"] == 0

    asyncio.run(main())


def test_progress_follows_the_edges_inventory_and_a_second_run_sends_the_same() -> None:
    async def main() -> None:
        _, _, _, fill, edges = scenario()
        await fill.board.poll()
        await fill.run()
        first = {name: sorted(e.filled_keys()) for name, e in edges.items()}
        planned = fill.status()["clusters"]
        for edge in edges.values():  # the edges filled everything they were sent
            held: dict[str, int] = {}
            sizes = fill.clusters[f"{edge.region}/{edge.cluster}"].plan.files
            for key in edge.filled_keys():
                held[asset_prefix(key)] = held.get(asset_prefix(key), 0) + sizes[key]
            edge.inventory = held
            edge.fills.clear()
        await fill.board.poll()
        done = {c["cluster"]: c for c in fill.status()["clusters"]}
        for cluster in planned:
            row = done[cluster["cluster"]]
            assert row["done_bytes"] == row["planned_bytes"] == cluster["planned_bytes"]
            assert (row["queued_bytes"], row["failed_bytes"]) == (0, 0)
        gauge = fill.metrics.gauge("steering.fill.bytes", cluster="us/c1", state="done")
        assert gauge.value == done["us/c1"]["done_bytes"]
        await fill.run()
        assert {name: sorted(e.filled_keys()) for name, e in edges.items()} == first

    asyncio.run(main())


def test_an_edge_that_cannot_be_reached_counts_as_failed() -> None:
    async def main() -> None:
        _, _, _, fill, edges = scenario()
        await fill.board.poll()
        edges["us-2"].down = True  # it went away after its last report
        await fill.run()
        row = next(c for c in fill.status()["clusters"] if c["cluster"] == "us/c1")
        assert row["failed_bytes"] == row["edges"]["us-2"]["planned_bytes"] > 0
        assert row["queued_bytes"] == row["planned_bytes"] - row["failed_bytes"]

    asyncio.run(main())


def test_one_run_per_window() -> None:
    async def main() -> None:
        clock, _, _, fill, _ = scenario()
        await fill.board.poll()
        assert await fill.tick() is True
        clock.advance(3600)  # 04:00, same window
        assert await fill.tick() is False
        clock.advance(3 * 3600)  # 07:00, outside
        assert fill.window_key(clock.time()) is None
        assert await fill.tick() is False
        clock.advance(20 * 3600)  # 03:00 the next day
        await fill.board.poll()
        assert await fill.tick() is True
        assert fill.last_run is not None
        assert fill.last_run["reason"] == "window"

    asyncio.run(main())


def test_files_group_into_renditions_in_playback_order() -> None:
    objects = [
        ("assets/a/video/720p/10.m4s", 7),
        ("assets/a/video/720p/2.m4s", 6),
        ("assets/a/video/720p/init.mp4", 1),
        ("assets/a/video/720p/index.m3u8", 1),
        ("assets/a/manifest.mpd", 2),
        ("assets/a/poster.jpg", 3),
        ("assets/a/trickplay/sprite_0001.jpg", 4),
    ]
    media = title_media("t", objects)
    groups = {r.name: list(r.keys) for r in media.renditions}
    assert groups == {
        "": [
            "media/assets/a/video/720p/index.m3u8",
            "media/assets/a/manifest.mpd",
            "media/assets/a/poster.jpg",
        ],
        "trickplay": ["media/assets/a/trickplay/sprite_0001.jpg"],
        "video/720p": [
            "media/assets/a/video/720p/init.mp4",
            "media/assets/a/video/720p/2.m4s",
            "media/assets/a/video/720p/10.m4s",
        ],
    }
    shape = demand_shape([media], bins=4)
    assert shape.share("") == shape.share("video/720p") == 1.0
    assert shape.share("trickplay") == 0.3
    assert shape.position_weight == (1.0, 0.875, 0.75, 0.625)


def test_placement_is_stable_and_within_budgets() -> None:
    files = {f"media/assets/a/video/1/{n}.m4s": 10 for n in range(100)}
    three = place(files, [("e1", 400), ("e2", 400), ("e3", 400)])
    assert not three.unplaced
    assert all(three.bytes_on(e) <= 400 for e in ("e1", "e2", "e3"))
    # Without e3, only e3's files move (rendezvous hashing), as far as room allows.
    two = place(files, [("e1", 600), ("e2", 600)])
    for edge in ("e1", "e2"):
        assert set(three.by_edge[edge]) <= set(two.by_edge[edge])
    tight = place(files, [("e1", 250)])
    assert (tight.bytes_on("e1"), sum(tight.unplaced.values())) == (250, 750)
