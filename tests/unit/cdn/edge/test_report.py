"""What the edge reports to steering, and proactive fill with its progress."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from matinee.cdn.edge.report import RateWindow
from matinee.clock import FakeClock

from .harness import (
    BIG,
    PREFIX,
    SEG_720,
    SEG_1080,
    call,
    make_edge,
    make_platform,
    media_bytes,
    origin,
    running,
    signed,
    token,
)


def test_the_report_has_health_load_hits_and_inventory(tmp_path: Path) -> None:
    async def main() -> None:
        async with origin(make_platform(tmp_path)) as up:
            edge = make_edge(tmp_path / "edge", origins=[up.url], capacity=5_000_000)
            async with running(edge) as app:
                for key in (SEG_720, SEG_720, SEG_720, BIG):
                    assert (await call(app, "GET", signed(key))).status == 200
                report = (await call(app, "GET", "/edge/report")).json()
                assert report["edge_id"] == "edge-a"
                assert report["cluster"] == "local-a"
                assert report["region"] == "local"
                assert report["public_url"] == "http://127.0.0.1:0"
                assert report["healthy"] is True
                assert set(report["load"]) == {"inflight", "bytes_out_per_s", "requests_per_s"}
                assert report["load"]["inflight"] == 0
                assert report["capacity_bytes"] == 5_000_000
                held = len(media_bytes(SEG_720)) + len(media_bytes(BIG))
                assert report["used_bytes"] == held
                assert (report["hits"], report["misses"], report["hit_ratio"]) == (2, 2, 0.5)
                assert report["inventory"] == {PREFIX: held}
                assert report["upstream"]["origin"] == {"fetches": 2, "bytes": held}
                assert report["upstream"]["origins"] == [up.url]
                assert report["upstream"]["peers"] == []
                assert report["policy"] == "lru"
                health = await call(app, "GET", "/healthz")
                ready = await call(app, "GET", "/readyz")
                assert (health.status, ready.status) == (200, 200)
                await edge.leave()
                assert (await call(app, "GET", "/readyz")).status == 503
                assert (await call(app, "GET", "/edge/report")).json()["healthy"] is False

    asyncio.run(main())


def test_rates_are_over_the_last_whole_seconds() -> None:
    clock = FakeClock(start=100.0)
    rate = RateWindow(clock, window=10)
    for _ in range(9):
        rate.add(50)
        clock.advance(1)
    assert rate.per_second() == 50.0
    clock.advance(20)
    assert rate.per_second() == 0.0


def fill_auth() -> tuple[str, str]:
    """What steering sends (made when asked: a token made at import would expire when the
    whole suite takes longer than its ten minutes)."""
    return ("authorization", f"Bearer {token('media/assets/')}")


def test_proactive_fill_fetches_pins_and_reports_progress(tmp_path: Path) -> None:
    async def main() -> None:
        async with origin(make_platform(tmp_path)) as up:
            edge = make_edge(tmp_path / "edge", origins=[up.url], capacity=200_000)
            async with running(edge) as app:
                until = time.time() + 3600
                keys = [SEG_720, SEG_1080, f"{PREFIX}video/720p-3000k/00099.m4s"]
                accepted = await call(
                    app,
                    "POST",
                    "/edge/fill",
                    [("content-type", "application/json"), fill_auth()],
                    body=f'{{"keys": {keys!r}, "pin_until": {until}}}'.replace("'", '"').encode(),
                )
                assert accepted.status == 202
                assert accepted.json()["accepted"] == 3
                for _ in range(200):
                    progress = (await call(app, "GET", "/edge/fill")).json()
                    if not progress["running"]:
                        break
                    await asyncio.sleep(0.02)
                assert progress["queued"] == 3
                assert progress["done"] == 2
                assert progress["failed"] == 1  # the origin has no such segment
                assert progress["bytes"] == len(media_bytes(SEG_720)) + len(media_bytes(SEG_1080))
                assert edge.store.index.is_pinned(SEG_720)
                assert edge.store.pinned_bytes == progress["bytes"]
                # Pinned: pull-through traffic works around them.
                poster = f"{PREFIX}poster.jpg"
                assert (await call(app, "GET", signed(poster))).status == 200
                assert SEG_720 in edge.store
                # Filling what is already held costs no fetch.
                again = await call(
                    app,
                    "POST",
                    "/edge/fill",
                    [fill_auth()],
                    body=f'{{"keys": ["{SEG_720}"]}}'.encode(),
                )
                assert again.status == 202
                await asyncio.sleep(0.05)
                assert up.counted.gets(SEG_720) == 1

    asyncio.run(main())


def test_only_steering_may_ask_for_a_fill(tmp_path: Path) -> None:
    async def main() -> None:
        edge = make_edge(tmp_path / "edge")
        async with running(edge) as app:
            body = f'{{"keys": ["{SEG_720}"]}}'.encode()
            cases = {
                "no token": [],
                "a title's token": [("authorization", f"Bearer {token()}")],
                "expired": [("authorization", f"Bearer {token('media/assets/', ttl=-5)}")],
                "altered": [("authorization", fill_auth()[1][:-3] + "AAA")],
            }
            for case, headers in cases.items():
                reply = await call(app, "POST", "/edge/fill", headers, body=body)
                assert reply.status == 403, case
                assert reply.json()["message"], case
            assert (await call(app, "GET", "/edge/fill")).json()["queued"] == 0

    asyncio.run(main())


def test_a_fill_request_must_name_media_objects(tmp_path: Path) -> None:
    async def main() -> None:
        edge = make_edge(tmp_path / "edge")
        async with running(edge) as app:
            cases = {
                b"not json": "body",
                b"{}": "keys",
                b'{"keys": []}': "keys",
                b'{"keys": ["media/assets/a1/../../x"]}': "keys.0",
                b'{"keys": ["media/assets/a1/ok.m4s", "masters/j1/source.mp4"]}': "keys.1",
                b'{"keys": ["media/assets/a1/ok.m4s"], "pin_until": "soon"}': "pin_until",
            }
            for body, field in cases.items():
                reply = await call(app, "POST", "/edge/fill", [fill_auth()], body=body)
                assert reply.status == 422, body
                assert reply.json()["error"] == "invalid_request"
                assert field in reply.json()["message"], (body, reply.json())
            assert (await call(app, "GET", "/edge/fill")).json()["queued"] == 0
            assert (await call(app, "GET", "/nowhere")).status == 404

    asyncio.run(main())
