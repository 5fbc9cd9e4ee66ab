"""Ranking with real edges and the nginx CDN tier: the order, an edge that holds the title
moving up, the CDN tier as a token-checking pull-through cache, and an edge (then the CDN
tier) that stops answering dropping out of the list."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from matinee.clock import SystemClock
from matinee.delivery.tokens import Claims, UrlSigner
from matinee.platform import Platform

from .harness import KEY, CdnPlatform, EdgeSpec, wait_for
from .titles import synthetic_asset

STEERING = """
default_region = "local"
poll_interval_s = 0.5
stale_after_s = 2.0

[fill]
start_hour = 0
end_hour = 0
"""
SEGMENT = "video/720p-3000k/00001.m4s"


def signer() -> UrlSigner:
    return UrlSigner(KEY.encode(), SystemClock())


def test_rank_order_cdn_tier_and_an_edge_that_stops_reporting(tmp_path: Path) -> None:
    made: dict[str, tuple[str, dict[str, int]]] = {}

    def prepare(platform: Platform) -> None:
        made["a"] = synthetic_asset(
            platform, "A", segments=3, sizes={"video/720p-3000k": 30_000}, seed=7
        )

    edges = [EdgeSpec("edge-1"), EdgeSpec("edge-2"), EdgeSpec("edge-eu", region="eu")]
    with CdnPlatform(tmp_path, edges, STEERING, prepare=prepare) as cdn:
        asset_id, files = made["a"]
        prefix = f"media/assets/{asset_id}/"

        def order(client_ip: str = "127.0.0.1") -> list[tuple[str, str]]:
            return [(h["name"], h["kind"]) for h in cdn.rank("t-a", prefix, client_ip)]

        start = [("edge-1", "edge"), ("edge-2", "edge"), ("cdn", "cdn"), ("origin", "origin")]
        wait_for("both local edges and the CDN tier", lambda: order() == start, 20)
        hosts = cdn.rank("t-a", prefix)
        assert [h["base_url"] for h in hosts[2:]] == [cdn.cdn_url, cdn.front]
        # A public address of no region gets the CDN tier and the origin only.
        assert order("8.8.8.8") == [("cdn", "cdn"), ("origin", "origin")]

        # edge-2 serves the title once (a miss it fills from the origin): it then holds some
        # of it and ranks first.
        token, _ = signer().issue(prefix, 600)
        path = f"/t/{token}/{prefix}{SEGMENT}"
        expected = files[f"assets/{asset_id}/{SEGMENT}"]
        got = httpx.get(cdn.running["edge-2"].url + path)
        assert (got.status_code, len(got.content)) == (200, expected)
        wait_for("edge-2 to rank first", lambda: order()[0] == ("edge-2", "edge"), 5)

        # The CDN tier: a pull-through cache keyed by object, every token checked.
        first = httpx.get(cdn.cdn_url + path)
        assert (first.status_code, len(first.content)) == (200, expected)
        assert first.headers["x-cache-status"] == "MISS"
        other, _ = signer().issue(prefix, 600)  # another viewer's token, same object
        second = httpx.get(f"{cdn.cdn_url}/t/{other}/{prefix}{SEGMENT}")
        assert (second.status_code, second.content) == (200, first.content)
        assert second.headers["x-cache-status"] == "HIT"
        ranged = httpx.get(cdn.cdn_url + path, headers={"range": "bytes=10-19"})
        assert (ranged.status_code, ranged.content) == (206, first.content[10:20])
        tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        assert httpx.get(f"{cdn.cdn_url}/t/{tampered}/{prefix}{SEGMENT}").status_code == 403
        expired = signer().sign(Claims(prefix, int(time.time()) - 1))
        assert httpx.get(f"{cdn.cdn_url}/t/{expired}/{prefix}{SEGMENT}").status_code == 403
        missing = httpx.get(f"{cdn.cdn_url}/t/{token}/{prefix}video/720p-3000k/09999.m4s")
        assert missing.status_code == 404
        manifest = httpx.get(f"{cdn.cdn_url}/t/{token}/{prefix}manifest.mpd")
        assert manifest.status_code == 200
        assert manifest.headers["x-cache-status"] in ("MISS", "BYPASS", "EXPIRED")  # private

        # An edge that stops answering drops out within stale_after_s (2 s) and a poll.
        cdn.running["edge-2"].kill()
        gone = wait_for(
            "edge-2 to drop out",
            lambda: order() == [("edge-1", "edge"), ("cdn", "cdn"), ("origin", "origin")],
            10,
        )
        print(f"a killed edge left the ranking after {gone:.2f} s")  # a measured figure
        assert gone <= 2.0 + 0.5 + 1.5  # stale_after_s + poll interval + a busy machine

        assert cdn.nginx is not None
        cdn.nginx.kill()
        cdn.nginx.wait()
        wait_for(
            "the CDN tier to drop out",
            lambda: order() == [("edge-1", "edge"), ("origin", "origin")],
            5,
        )
