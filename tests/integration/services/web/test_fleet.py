"""``matinee up --topology fleet`` with the web service: both gateways serve the viewer app and
the admin console from the web instances, and the admin API gathers from every process."""

from __future__ import annotations

import contextlib
import http.client
import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from matinee.fleet.up import probe
from matinee.gateway.auth import Identity, identity_headers
from matinee.runtime.config import identity_key
from matinee.settings import Settings

from ...fleet.harness import Answer, Fleet, wait_for

INDEX = b"<!doctype html><title>matinee</title><script src=/app/viewer.js></script>"
ADMIN = b"<!doctype html><title>matinee admin</title><script src=/app/admin.js></script>"
VIEWER_JS = b"console.log('viewer');\n"
# Discovery shrunk so the fleet settles in seconds; the default routes (no [[gateway.routes]]).
RUNTIME_TOML = """
[discovery]
renewal_interval = 1
lease_duration = 3
registry_fetch_interval = 1
eviction_interval = 1
self_preservation = false
request_timeout = 1

[gateway.rate_limit]
enabled = false
"""


def get(port: int, path: str, headers: dict[str, str] | None = None) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Registry peers, two web instances and two gateways, on free ports."""
    root = tmp_path_factory.mktemp("web-fleet")
    dist = root / "dist"
    dist.mkdir()
    (dist / "index.html").write_bytes(INDEX)
    (dist / "admin.html").write_bytes(ADMIN)
    (dist / "viewer.js").write_bytes(VIEWER_JS)
    running = Fleet(root)
    (root / "runtime.toml").write_text(RUNTIME_TOML)
    running.env.update(
        MATINEE_SERVICES="web",
        MATINEE_WEB_DIST=str(dist),
        MATINEE_EDGES="0",
        MATINEE_CDN_PORT="0",
        MATINEE_FAULT_INJECTION="false",
    )
    running.start()
    try:

        def ready() -> bool:
            if running.proc is not None and running.proc.poll() is not None:
                raise AssertionError(f"matinee up exited early:\n{running.output()}")
            records = running.records()
            return len(records) == 6 and all(probe(r).health == "ready" for r in records)

        wait_for("the fleet starting", ready, 120, interval=0.25)
        for port in running.gateways:  # routing to web once their discovery caches have it

            def serving(port: int = port) -> bool:
                return get(port, "/").status == 200

            wait_for(f"gateway :{port} serving /", serving, 30)
        yield running
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            running.interrupt()
        running.kill_all()


def admin_headers(fleet: Fleet) -> dict[str, str]:
    """What a gateway sends for a signed-in administrator (signed with the fleet's key)."""
    key = identity_key(Settings(data_dir=fleet.root / "data"))
    who = Identity(subject="admin-1", roles=("member", "admin"), session="s-1")
    return dict(identity_headers(who, key, time.time()))


def admin(fleet: Fleet, port: int, path: str) -> Any:
    answer = get(port, path, admin_headers(fleet))
    assert answer.status == 200, answer.body
    return json.loads(answer.body)


def test_both_gateways_serve_the_app_and_the_console(fleet: Fleet) -> None:
    services = sorted(r.service for r in fleet.records())
    assert services == ["gateway", "gateway", "registry", "registry", "web", "web"]
    for port in fleet.gateways:
        for path in ("/", "/title/tt-1", "/account"):
            page = get(port, path)
            assert (page.status, page.body) == (200, INDEX), path
            assert page.headers["cache-control"] == "no-cache"
        for path in ("/admin", "/admin/services"):
            page = get(port, path)
            assert (page.status, page.body) == (200, ADMIN), path
        script = get(port, "/app/viewer.js")
        assert (script.status, script.body) == (200, VIEWER_JS)
        again = get(port, "/app/viewer.js", {"if-none-match": script.headers["etag"]})
        assert again.status == 304
        # the console's API is routed to web, which wants an administrator
        assert get(port, "/api/admin/services").status == 401
        # media is not in this fleet: its paths go to media all the same, never to a page
        assert get(port, "/api/assets").status == 502


def test_the_admin_api_gathers_from_every_process(fleet: Fleet) -> None:
    web = fleet.instances("web")[0].port
    state = admin(fleet, web, "/api/admin/services")
    apps = {a["name"]: {i["id"] for i in a["instances"]} for a in state["apps"]}
    records: dict[str, set[str]] = {r.service: set() for r in fleet.records()}
    for r in fleet.records():
        records[r.service].add(r.instance_id)
    assert apps == {"web": records["web"], "gateway": records["gateway"]}
    assert state["source"] == "registry"
    assert state["unavailable"] == []
    # both registry peers answer, each replicating to the other
    peers = {p["url"]: p for p in state["registries"]}
    assert len(peers) == 2
    for url, peer in peers.items():
        assert peer["up"] is True
        assert peer["instances"] == len(records["web"] | records["gateway"])
        assert [r["url"] for r in peer["replicas"]] == [u for u in peers if u != url]
    assert {row["instance"] for row in state["shedding"]} == records["web"] | records["gateway"]
    # the gateways have called web (the pages above): their breakers for it are closed
    gateway_breakers = [b for b in state["breakers"] if b["dependency"] == "web"]
    assert {b["state"] for b in gateway_breakers} <= {"closed"}

    for port in fleet.gateways:
        assert get(port, "/").status == 200  # traffic that only the gateways' stores hold

    def merged() -> bool:
        names = admin(fleet, web, "/api/admin/metrics/names")
        return "gateway.requests" in names["names"]  # in the gateways' stores only

    wait_for("the gateways' series reaching the console", merged, 40, interval=1.0)
    names = admin(fleet, web, "/api/admin/metrics/names")
    here = set(names["sources"]["here"])
    assert len(here & records["web"]) == 1  # its own store, read in place
    assert set(names["sources"]["asked"]) == (records["web"] - here) | records["gateway"]
    query = admin(
        fleet,
        web,
        "/api/admin/metrics/query?name=gateway.requests&tags=statistic:count&group_by=route",
    )
    routes = {s["tags"]["route"] for s in query["series"]}
    assert "web" in routes
    assert query["unavailable"] == []
