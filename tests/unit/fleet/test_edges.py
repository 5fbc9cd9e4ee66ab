"""The CDN's edges in ``matinee up``: their processes in both topologies, their wave in the
fleet, and the monolith registering them in its in-process registry."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from matinee.fleet.edges import plan_edges, sidecar_instances
from matinee.fleet.plan import plan_fleet
from matinee.fleet.supervisor import InstanceRecord
from matinee.fleet.up import _waves
from matinee.runtime.context import RuntimeConfig
from matinee.runtime.monolith import Monolith
from matinee.services import gateway, registry
from matinee.settings import Settings


def flag(argv: tuple[str, ...], name: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == name]


def test_each_edge_gets_a_port_a_disk_its_peers_and_its_origin(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {
            "data_dir": tmp_path,
            "edges": 3,
            "edge_base_port": 9300,
            "edge_capacity_mb": 5,
            "edge_policy": "sieve",
            "edge_region": "eu",
            "edge_cluster": "ix-1",
            "zones": "a,b",
        }
    )
    plan = plan_edges(settings, origin="http://127.0.0.1:8000")
    assert [(s.name, s.port, s.zone) for s in plan] == [
        ("edge-0", 9300, "a"),
        ("edge-1", 9301, "b"),
        ("edge-2", 9302, "a"),
    ]
    argv = plan[1].argv
    assert argv[:3] == (sys.executable, "-m", "matinee.cdn.edge")
    assert flag(argv, "--root") == [str(tmp_path / "edges" / "1")]
    assert flag(argv, "--capacity-bytes") == [str(5 * 1024 * 1024)]
    assert flag(argv, "--peer") == ["http://127.0.0.1:9300", "http://127.0.0.1:9302"]
    assert flag(argv, "--origin") == ["http://127.0.0.1:8000"]
    assert flag(argv, "--registry-url") == []
    assert flag(argv, "--edge-id") == ["edge-1"]  # the supervisor's --instance-id comes after
    assert (flag(argv, "--policy"), flag(argv, "--region"), flag(argv, "--cluster")) == (
        ["sieve"],
        ["eu"],
        ["ix-1"],
    )
    assert plan_edges(settings.model_copy(update={"edges": 0})) == []


def test_the_fleet_starts_edges_after_the_services_and_before_the_gateways(
    tmp_path: Path,
) -> None:
    settings = Settings.model_validate({"data_dir": tmp_path, "replicas": 1})
    plan = plan_fleet(settings, ["media"])
    services = [s.service for s in plan]
    assert services == ["registry", "registry", "media", "edge", "edge", "gateway"]
    edge = plan[3].argv
    assert flag(edge, "--origin") == []  # the fleet's edges find media in discovery
    assert len(flag(edge, "--registry-url")) == 2
    records = [
        InstanceRecord(s.service, s.slot, s.name, s.port, s.zone, 0, 0.0, 0, "") for s in plan
    ]
    assert _waves(records) == [{"registry"}, {"media"}, {"edge"}, {"gateway"}]
    # Without the origin there is nothing for edges to serve.
    assert "edge" not in {s.service for s in plan_fleet(settings, ["registry"])}
    no_edges = settings.model_copy(update={"edges": 0})
    assert "edge" not in {s.service for s in plan_fleet(no_edges, ["media"])}


def test_the_monolith_registers_its_edges_and_cancels_them_when_it_leaves(
    tmp_path: Path,
) -> None:
    settings = Settings.model_validate({"data_dir": tmp_path, "edges": 2})
    sidecars = sidecar_instances(settings)
    assert [s.instance_id for s in sidecars] == ["edge-0", "edge-1"]

    async def main() -> None:
        monolith = Monolith(
            settings,
            RuntimeConfig(),
            services=[registry.SPEC, gateway.SPEC],
            sidecars=sidecars,
        )
        await monolith.start()
        try:
            answer = await monolith.transport.request(
                "GET", "http://registry-1.local/eureka/apps/EDGE", [("accept", "application/json")]
            )
            assert answer.status == 200
            found = {
                i["instanceId"]: i["metadata"] for i in answer.json()["application"]["instance"]
            }
            assert set(found) == {"edge-0", "edge-1"}
            assert found["edge-1"]["public_url"] == "http://127.0.0.1:8201"
            assert (found["edge-1"]["region"], found["edge-1"]["cluster"]) == ("local", "local-a")
            gateway_view = monolith.instance("gateway").runtime.ctx.discovery.instances("edge")
            assert [i.instance_id for i in gateway_view] == ["edge-0", "edge-1"]
            await monolith.leave()
            gone = await monolith.transport.request(
                "GET", "http://registry-1.local/eureka/apps/EDGE", [("accept", "application/json")]
            )
            assert gone.status == 404
        finally:
            await monolith.stop()

    asyncio.run(main())
