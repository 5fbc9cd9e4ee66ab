"""The history service in a monolith (registry, history, gateway; a catalog when asked), on
every store backend: through the real gateway with session tokens, and straight to the history
instance with identity headers signed with the monolith's key.

The catalog here is a stand-in that speaks the catalog's internal contract
(``GET /internal/catalog/titles/{id}``) for a few episodes; the real catalog service is tested
on its own.
"""

from __future__ import annotations

import asyncio
import json
import random
import string
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from matinee.clock import SystemClock
from matinee.gateway.app import create_gateway
from matinee.gateway.auth import Identity, identity_headers
from matinee.history import open_history_store
from matinee.runtime.app import ServiceSpec
from matinee.runtime.context import RuntimeConfig, ServiceContext
from matinee.runtime.monolith import Monolith
from matinee.runtime.transport import ASGIApp, AsgiTransport, Response
from matinee.services import registry
from matinee.services.history import SPEC as HISTORY
from matinee.settings import Settings

EPISODES = {"s1e1": "s1e2", "s1e2": "s1e3"}


class StaticTokens:
    """A token validator that knows a fixed set of sessions (identity has its own tests)."""

    def __init__(self, tokens: dict[str, Identity]) -> None:
        self.tokens = tokens

    async def validate(self, token: str) -> Identity | None:
        return self.tokens.get(token)


def gateway(tokens: dict[str, Identity]) -> ServiceSpec:
    def build(ctx: ServiceContext) -> ASGIApp:
        return create_gateway(
            ctx,
            config=ctx.config.gateway,
            validator=StaticTokens(tokens),
            identity_key=ctx.config.identity_key,
        )

    return ServiceSpec("gateway", asgi=build)


def catalog_stand_in(ctx: ServiceContext) -> APIRouter:
    api = APIRouter()

    @api.get("/internal/catalog/titles/{title_id}")
    async def title(title_id: str) -> JSONResponse:
        if not title_id.startswith("s1e"):
            return JSONResponse({"error": "title_not_found"}, status_code=404)
        body = {"id": title_id, "kind": "episode", "next_episode_id": EPISODES.get(title_id)}
        return JSONResponse(body)

    return api


CATALOG = ServiceSpec("catalog", build=catalog_stand_in)
Body = Callable[[Monolith, Callable[..., Awaitable[Response]]], Awaitable[None]]


def run(tmp_path: Path, history_url: str, body: Body, *, catalog: bool, profile: str) -> None:
    tokens = {
        "viewer-token": Identity(subject="acct-1", profile=profile),
        "no-profile-token": Identity(subject="acct-1"),
    }
    services = [registry.SPEC, HISTORY, gateway(tokens), *([CATALOG] if catalog else [])]

    async def main() -> None:
        settings = Settings(data_dir=tmp_path, history_url=history_url)
        monolith = Monolith(settings, RuntimeConfig(), services=services)
        front = AsgiTransport({"matinee.test": monolith})

        async def call(method: str, path: str, token: str | None = None, body: object = None):  # type: ignore[no-untyped-def]
            headers = [("content-type", "application/json")]
            if token:
                headers.append(("authorization", f"Bearer {token}"))
            data = json.dumps(body).encode() if body is not None else b""
            return await front.request(method, f"http://matinee.test{path}", headers, data)

        await monolith.start()
        try:
            await body(monolith, call)
        finally:
            await monolith.leave()
            await monolith.stop()

    asyncio.run(main())


def event(n: int, title: str, position: float, **extra: object) -> dict[str, object]:
    return {
        "event_id": f"ev-{n}",
        "title_id": title,
        "position_s": position,
        "duration_s": 1000.0,
        "client_ts": SystemClock().time() - 100 + n,
        "device": "browser",
        "rendition": "720p",
        "bitrate": 3_000_000,
        **extra,
    }


def test_heartbeats_through_the_gateway_become_continue_watching(
    tmp_path: Path, history_url: str
) -> None:
    profile = f"prof-{uuid.uuid4().hex[:10]}"

    async def body(monolith: Monolith, call: Callable[..., Awaitable[Response]]) -> None:
        batch = {
            "events": [
                event(1, "s1e1", 0, kind="start"),
                event(2, "s1e1", 960),
                event(3, "s1e1", 990, kind="stop", finished=True),
                event(4, "movie", 120),
            ]
        }
        accepted = await call("POST", "/api/history/events", "viewer-token", batch)
        assert (accepted.status, accepted.json()) == (200, {"accepted": 4}), accepted.text
        again = await call("POST", "/api/history/events", "viewer-token", batch)
        assert again.status == 200  # a retried batch is acknowledged and stored once

        row = await call("GET", "/api/history/continue-watching", "viewer-token")
        assert row.status == 200
        items = row.json()["items"]
        assert [(i["title_id"], i["kind"]) for i in items] == [
            ("movie", "resume"),
            ("s1e2", "next_episode"),
        ]
        page = await call("GET", "/api/history?limit=3", "viewer-token")
        assert [i["event_id"] for i in page.json()["items"]] == ["ev-4", "ev-3", "ev-2"]
        cursor = page.json()["next_cursor"]
        rest = await call("GET", f"/api/history?limit=3&cursor={cursor}", "viewer-token")
        assert [i["event_id"] for i in rest.json()["items"]] == ["ev-1"]
        mark = await call("GET", "/api/history/bookmarks/movie", "viewer-token")
        assert (mark.status, mark.json()["position_s"]) == (200, 120)

        missing = await call("GET", "/api/history/bookmarks/unseen", "viewer-token")
        assert (missing.status, missing.json()["error"]) == (404, "no_bookmark")
        anonymous = await call("GET", "/api/history/continue-watching")
        assert anonymous.status == 401
        no_profile = await call("GET", "/api/history", "no-profile-token")
        assert no_profile.status == 403
        bad = await call("POST", "/api/history/events", "viewer-token", {"events": [{"x": 1}]})
        assert bad.status == 422
        assert "events.0.event_id" in bad.json()["message"]
        assert (await call("GET", "/api/history?cursor=zzz", "viewer-token")).status == 400

    run(tmp_path, history_url, body, catalog=True, profile=profile)


def test_without_the_catalog_the_next_episode_is_left_out_and_counted(
    tmp_path: Path, history_url: str
) -> None:
    profile = f"prof-{uuid.uuid4().hex[:10]}"

    async def body(monolith: Monolith, call: Callable[..., Awaitable[Response]]) -> None:
        key = monolith.config.identity_key
        assert key is not None
        now = SystemClock().time()
        signed = identity_headers(Identity(subject="acct-2", profile=profile), key, now)
        history = "http://history-1.local"
        batch = {"events": [event(1, "s1e1", 995), event(2, "doc", 10)]}
        posted = await monolith.transport.request(
            "POST",
            f"{history}/api/history/events",
            [*signed, ("content-type", "application/json")],
            json.dumps(batch).encode(),
        )
        assert posted.status == 200
        row = await monolith.transport.request(
            "GET", f"{history}/api/history/continue-watching", signed
        )
        assert [i["title_id"] for i in row.json()["items"]] == ["doc"]
        metrics = monolith.node.metrics
        assert metrics.counter("history.next_episode.fallback").value == 1
        assert (
            metrics.counter("resilience.fallback", dependency="catalog", cause="failure").value
            + (
                metrics.counter(
                    "resilience.fallback", dependency="catalog", cause="short_circuit"
                ).value
            )
            >= 1
        )

    run(tmp_path, history_url, body, catalog=False, profile=profile)


def test_acknowledged_events_survive_the_service_stopping(tmp_path: Path, history_url: str) -> None:
    profile = f"prof-{uuid.uuid4().hex[:10]}"

    async def body(monolith: Monolith, call: Callable[..., Awaitable[Response]]) -> None:
        batches = [{"events": [event(n, "film", 10.0 * n)]} for n in range(1, 41)]
        for first in range(0, 40, 8):  # a few at a time: within the gateway's bulkhead (10)
            answers = await asyncio.gather(
                *(
                    call("POST", "/api/history/events", "viewer-token", b)
                    for b in batches[first : first + 8]
                )
            )
            assert {a.status for a in answers} == {200}

    run(tmp_path, history_url, body, catalog=False, profile=profile)

    async def reopen() -> None:
        async with open_history_store(history_url) as store:
            page = await store.history(profile, limit=100)
            assert len(page.items) == 40
            bookmark = await store.bookmark(profile, "film")
            assert bookmark is not None
            assert bookmark.position_s == 400

    asyncio.run(reopen())


def test_starts_count_as_plays_in_the_members_country(tmp_path: Path, history_url: str) -> None:
    country = "X" + random.choice(string.ascii_uppercase)  # Cassandra tests share a keyspace

    async def body(monolith: Monolith, call: Callable[..., Awaitable[Response]]) -> None:
        key = monolith.config.identity_key
        assert key is not None
        history = "http://history-1.local"
        now = SystemClock().time()
        for n, title in enumerate(["hit", "hit", "hit", "niche"]):
            who = Identity(subject=f"acct-{n}", profile=f"prof-{uuid.uuid4().hex[:10]}")
            signed = identity_headers(replace(who, country=country), key, now)
            batch = {
                "events": [event(1, title, 0, kind="start"), event(2, title, 10)],
            }
            posted = await monolith.transport.request(
                "POST",
                f"{history}/api/history/events",
                [*signed, ("content-type", "application/json")],
                json.dumps(batch).encode(),
            )
            assert posted.status == 200, posted.text
        popular = await monolith.transport.request(
            "GET", f"{history}/internal/history/popular?country={country}&days=7&limit=10"
        )
        assert popular.status == 200, popular.text
        assert popular.json() == {
            "country": country,
            "days": 7,
            "titles": [{"title_id": "hit", "plays": 3}, {"title_id": "niche", "plays": 1}],
        }
        bad = await monolith.transport.request(
            "GET", f"{history}/internal/history/popular?country=usa"
        )
        assert bad.status == 422
        assert "country" in bad.json()["message"]

    run(tmp_path, history_url, body, catalog=False, profile="unused")
