"""The fill with real services and real edges: popularity from viewing history and newness from
the catalog put each region's titles on its own cluster's disks, up to the cluster's capacity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from matinee.platform import Platform

from .harness import CdnPlatform, EdgeSpec, wait_for
from .titles import catalog_title, play, synthetic_asset

STEERING = """
default_region = "local"
default_countries = ["US"]
poll_interval_s = 0.5
stale_after_s = 3.0

[[regions]]
name = "eu"
cidrs = ["198.51.100.0/24"]
countries = ["FR"]

[fill]
start_hour = 0
end_hour = 0          # no window: only the admin trigger fills
capacity_fraction = 0.8
"""
SIZES = {"video/720p-3000k": 40_000, "video/360p-365k": 15_000}
MEDIA = "media/"


def test_fill_puts_each_regions_titles_on_its_clusters_disks(tmp_path: Path) -> None:
    assets: dict[str, tuple[str, dict[str, int]]] = {}

    def prepare(platform: Platform) -> None:
        for seed, name in enumerate(("us-hit", "fr-hit", "old", "new")):
            assets[name] = synthetic_asset(platform, name, segments=10, sizes=SIZES, seed=seed)

    edges = [
        EdgeSpec("edge-1", capacity=1_000_000),
        EdgeSpec("edge-2", capacity=1_000_000),
        EdgeSpec("edge-eu", region="eu", cluster="eu-a", capacity=400_000),
    ]
    with CdnPlatform(tmp_path, edges, STEERING, cdn=False, prepare=prepare) as cdn:
        yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        titles = {
            "us-hit": catalog_title(cdn, "US hit", assets["us-hit"][0]),
            "fr-hit": catalog_title(cdn, "FR hit", assets["fr-hit"][0], countries=("FR",)),
            "old": catalog_title(cdn, "Old", assets["old"][0]),
            "new": catalog_title(cdn, "New", assets["new"][0], starts_at=yesterday),
        }
        play(cdn, titles["us-hit"], "US", 3)
        play(cdn, titles["fr-hit"], "FR", 2)
        popular = cdn.json_call(
            "history", "GET", "/internal/history/popular?country=US&days=7&limit=10"
        )
        assert popular["titles"] == [{"title_id": titles["us-hit"], "plays": 3}]
        wait_for("steering to see three live edges", lambda: live_edges(cdn) == 3, 20)

        run = cdn.json_call("steering", "POST", "/internal/steering/fill/run")
        clusters = {c["cluster"]: c for c in run["clusters"]}
        assert set(clusters) == {"local/local-a", "eu/eu-a"}
        assert set(clusters["local/local-a"]["titles"]) == {titles["us-hit"], titles["new"]}
        assert clusters["eu/eu-a"]["titles"] == [titles["fr-hit"]]

        def landed() -> bool:
            status = cdn.json_call("steering", "GET", "/internal/steering/fill")["clusters"]
            return all(c["done_bytes"] == c["planned_bytes"] > 0 for c in status)

        took = wait_for("the edges to hold what was planned", landed, 60)
        print(f"fill landed in {took:.1f} s")

        local = cdn.running["edge-1"].held() | cdn.running["edge-2"].held()
        expected_local = {MEDIA + k for k in {**assets["us-hit"][1], **assets["new"][1]}}
        assert local == expected_local  # both US titles whole (1.2 of 1.6 MB to fill)
        assert cdn.running["edge-1"].held()  # spread over both edges
        assert cdn.running["edge-2"].held()
        assert not cdn.running["edge-1"].held() & cdn.running["edge-2"].held()  # each once

        eu = cdn.running["edge-eu"].held()
        fr_files = {MEDIA + k: size for k, size in assets["fr-hit"][1].items()}
        assert eu <= set(fr_files)  # the French hit only, and only what fits
        assert sum(fr_files[k] for k in eu) <= 0.8 * 400_000
        for name in ("master.m3u8", "manifest.mpd", "audio/eng-0/00001.m4s"):
            assert any(k.endswith(name) for k in eu), name
        for folder in SIZES:
            assert any(k.endswith(f"{folder}/00001.m4s") for k in eu), folder
            assert not any(k.endswith(f"{folder}/00010.m4s") for k in eu), folder  # tail left

        reports = {e: cdn.running[e].report() for e in ("edge-1", "edge-2", "edge-eu")}
        assert all(r["pinned_bytes"] == r["used_bytes"] > 0 for r in reports.values())
        metrics = cdn.call_instance("steering", "GET", "/metrics").text
        done = [line for line in metrics.splitlines() if line.startswith("steering_fill_bytes{")]
        assert any('cluster="eu/eu-a"' in line and 'state="done"' in line for line in done)


def live_edges(cdn: CdnPlatform) -> int:
    body: dict[str, Any] = cdn.json_call("steering", "GET", "/internal/steering/edges")
    return sum(1 for e in body["edges"] if e["live"])
