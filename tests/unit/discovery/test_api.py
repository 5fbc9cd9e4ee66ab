"""Eureka's REST API in-process: status codes, JSON/XML negotiation, the replication header."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable

import httpx
from fastapi import FastAPI
from py_eureka_client import eureka_basic

from matinee.clock import FakeClock
from matinee.discovery.api import router
from matinee.discovery.config import DiscoveryConfig
from matinee.discovery.models import InstanceInfo
from matinee.discovery.registry import Registry
from matinee.discovery.replication import Replicator
from matinee.telemetry.metrics import Registry as Metrics
from matinee.testing.discovery import SimpleResponse

JSON = {"accept": "application/json"}


def registration(instance_id: str = "c-1", app: str = "catalog", **fields: object) -> bytes:
    info = InstanceInfo.for_service(app, instance_id, "127.0.0.1", 8001, zone="zone-a")
    body = {"instance": {**info.to_json(), "lastDirtyTimestamp": "1000", **fields}}
    return json.dumps(body).encode()


class Recorder:
    """A request callable standing in for peers: records what would be sent, answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.sent: list[tuple[str, str, dict[str, str]]] = []

    async def __call__(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        timeout: float,  # noqa: ASYNC109 - the transport shape
    ) -> SimpleResponse:
        self.sent.append((method, url, dict(headers)))
        return SimpleResponse(self.status, b"")


Scenario = Callable[[httpx.AsyncClient, Registry, Replicator, Recorder], Awaitable[None]]


def run(scenario: Scenario) -> None:
    async def main() -> None:
        clock = FakeClock()
        metrics = Metrics(clock)
        config = DiscoveryConfig(peer_urls=("http://peer-b/eureka",))
        registry = Registry(config, clock, metrics)
        recorder = Recorder()
        replicator = Replicator(config, registry, recorder, metrics)
        replicator.start()
        app = FastAPI()
        app.include_router(router(registry, replicator))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:
            try:
                await scenario(client, registry, replicator, recorder)
            finally:
                await replicator.aclose()

    asyncio.run(main())


def test_register_then_query_in_json_and_xml() -> None:
    async def scenario(
        client: httpx.AsyncClient, registry: Registry, _: Replicator, __: Recorder
    ) -> None:
        headers = {"content-type": "application/json"}
        posted = await client.post("/eureka/apps/CATALOG", content=registration(), headers=headers)
        assert posted.status_code == 204
        as_json = await client.get("/eureka/apps", headers=JSON)
        assert as_json.headers["content-type"] == "application/json"
        apps = as_json.json()["applications"]
        assert apps["apps__hashcode"] == "UP_1_"
        assert apps["application"][0]["instance"][0]["port"] == {"$": 8001, "@enabled": "true"}
        # No Accept header: XML, as Eureka answers (py_eureka_client parses that).
        as_xml = await client.get("/eureka/apps/")
        assert as_xml.headers["content-type"] == "application/xml"
        parsed = eureka_basic._build_applications(ET.fromstring(as_xml.content))  # noqa: S314 - our own output
        assert parsed.get_application("CATALOG").get_instance("c-1").port.port == 8001
        one = await client.get("/eureka/apps/catalog/c-1", headers=JSON)
        assert one.json()["instance"]["instanceId"] == "c-1"
        app_xml = await client.get("/eureka/apps/catalog")
        assert eureka_basic._build_application(ET.fromstring(app_xml.content)).name == "CATALOG"  # noqa: S314 - our own output
        assert (await client.get("/eureka/instances/c-1", headers=JSON)).status_code == 200
        vips = await client.get("/eureka/vips/catalog", headers=JSON)
        assert vips.json()["applications"]["application"][0]["name"] == "CATALOG"
        assert (await client.get("/eureka/apps/nothing")).status_code == 404
        assert (await client.get("/eureka/apps/catalog/nobody")).status_code == 404
        assert registry.size == 1

    run(scenario)


def test_renew_cancel_and_404s() -> None:
    async def scenario(
        client: httpx.AsyncClient, registry: Registry, _: Replicator, __: Recorder
    ) -> None:
        assert (await client.put("/eureka/apps/CATALOG/c-1?status=UP")).status_code == 404
        await client.post("/eureka/apps/CATALOG", content=registration())
        renewed = await client.put("/eureka/apps/CATALOG/c-1?status=UP&lastDirtyTimestamp=1000")
        assert renewed.status_code == 200
        newer = await client.put("/eureka/apps/CATALOG/c-1?lastDirtyTimestamp=2000")
        assert newer.status_code == 404  # the client's copy is newer: it must register again
        bad = await client.put("/eureka/apps/CATALOG/c-1?lastDirtyTimestamp=soon")
        assert bad.status_code == 400
        assert (await client.delete("/eureka/apps/CATALOG/c-1")).status_code == 200
        assert (await client.delete("/eureka/apps/CATALOG/c-1")).status_code == 404
        assert registry.size == 0

    run(scenario)


def test_conflict_answers_the_newer_copy_to_a_peer() -> None:
    async def scenario(
        client: httpx.AsyncClient, _: Registry, __: Replicator, ___: Recorder
    ) -> None:
        await client.post("/eureka/apps/CATALOG", content=registration())
        headers = {**JSON, "x-netflix-discovery-replication": "true"}
        older = await client.put("/eureka/apps/CATALOG/c-1?lastDirtyTimestamp=10", headers=headers)
        assert older.status_code == 409
        assert older.json()["instance"]["lastDirtyTimestamp"] == "1000"

    run(scenario)


def test_status_override_and_its_removal() -> None:
    async def scenario(
        client: httpx.AsyncClient, registry: Registry, _: Replicator, __: Recorder
    ) -> None:
        assert (await client.put("/eureka/apps/CATALOG/c-1/status?value=UP")).status_code == 404
        await client.post("/eureka/apps/CATALOG", content=registration())
        out = await client.put("/eureka/apps/CATALOG/c-1/status?value=OUT_OF_SERVICE")
        assert out.status_code == 200
        shown = (await client.get("/eureka/apps/CATALOG/c-1", headers=JSON)).json()["instance"]
        assert (shown["status"], shown["overriddenStatus"]) == ("OUT_OF_SERVICE", "OUT_OF_SERVICE")
        assert (
            await client.put("/eureka/apps/CATALOG/c-1/status?value=SIDEWAYS")
        ).status_code == 400
        delta = (await client.get("/eureka/apps/delta", headers=JSON)).json()["applications"]
        assert delta["apps__hashcode"] == "OUT_OF_SERVICE_1_"
        assert delta["application"][0]["instance"][0]["actionType"] == "MODIFIED"
        removed = await client.delete("/eureka/apps/CATALOG/c-1/status?lastDirtyTimestamp=1000")
        assert removed.status_code == 200
        assert registry.override_of("c-1") is None
        shown = (await client.get("/eureka/apps/CATALOG/c-1", headers=JSON)).json()["instance"]
        assert shown["status"] == "UNKNOWN"

    run(scenario)


def test_invalid_registrations_are_refused_in_plain_words() -> None:
    async def scenario(
        client: httpx.AsyncClient, registry: Registry, _: Replicator, __: Recorder
    ) -> None:
        no_host = await client.post("/eureka/apps/CATALOG", content=registration(hostName=""))
        assert no_host.status_code == 400
        assert no_host.json() == {
            "error": "invalid_instance",
            "message": "the registration has no hostName",
        }
        wrong_app = await client.post("/eureka/apps/BILLING", content=registration())
        assert wrong_app.status_code == 400
        assert "expecting BILLING but was CATALOG" in wrong_app.json()["message"]
        assert (await client.post("/eureka/apps/CATALOG", content=b"{nope")).status_code == 400
        as_xml = await client.post(
            "/eureka/apps/CATALOG", content=b"<instance/>", headers={"content-type": "text/xml"}
        )
        assert as_xml.status_code == 415
        assert registry.size == 0

    run(scenario)


def test_client_calls_are_replicated_and_replicated_calls_are_not() -> None:
    async def scenario(
        client: httpx.AsyncClient, _: Registry, replicator: Replicator, recorder: Recorder
    ) -> None:
        peer = {"x-netflix-discovery-replication": "true"}
        await client.post("/eureka/apps/CATALOG", content=registration("from-peer"), headers=peer)
        await client.put("/eureka/apps/CATALOG/from-peer", headers=peer)
        await client.put("/eureka/apps/CATALOG/from-peer/status?value=DOWN", headers=peer)
        await client.delete("/eureka/apps/CATALOG/from-peer", headers=peer)
        await replicator.drain()
        assert recorder.sent == []
        await client.post("/eureka/apps/CATALOG", content=registration("c-1"))
        await client.put("/eureka/apps/CATALOG/c-1")
        await client.put("/eureka/apps/CATALOG/c-1/status?value=OUT_OF_SERVICE")
        await client.delete("/eureka/apps/CATALOG/c-1/status")
        await client.delete("/eureka/apps/CATALOG/c-1")
        await replicator.drain()
        sent = [
            (method, url.removeprefix("http://peer-b/eureka")) for method, url, _ in recorder.sent
        ]
        assert [method for method, _ in sent] == ["POST", "PUT", "PUT", "DELETE", "DELETE"]
        assert sent[0][1] == "/apps/CATALOG"
        assert sent[1][1].startswith("/apps/CATALOG/c-1?status=UP&lastDirtyTimestamp=1000")
        assert sent[2][1] == "/apps/CATALOG/c-1/status?value=OUT_OF_SERVICE&lastDirtyTimestamp=1000"
        assert sent[4][1] == "/apps/CATALOG/c-1"
        assert all(h["x-netflix-discovery-replication"] == "true" for _, _, h in recorder.sent)

    run(scenario)
