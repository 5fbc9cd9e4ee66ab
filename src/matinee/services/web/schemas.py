"""The admin read API's answers (pydantic, with OpenAPI examples).

Every answer lists in ``unavailable`` the parts it could not gather (a dead instance, steering
down, the registry unreachable), with where from and why; the rest is answered all the same.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def _examples(*values: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(values)})


class Unavailable(BaseModel):
    model_config = _examples(
        {"source": "catalog-2", "part": "breakers", "reason": "no answer: connection refused"}
    )

    source: str = Field(description="an instance id, a service, or registry")
    part: str = Field(description="what is missing: apps, breakers, shedding, edges, series...")
    reason: str


class InstanceOut(BaseModel):
    id: str
    host: str
    port: int
    status: str = Field(description="UP, DOWN, STARTING, OUT_OF_SERVICE or UNKNOWN")
    zone: str
    last_renewal: float | None = Field(description="the lease's last renewal, epoch seconds")
    metadata: dict[str, str] = {}


class AppOut(BaseModel):
    name: str
    instances: list[InstanceOut]


class BreakerOut(BaseModel):
    instance: str = Field(description="the instance whose breaker this is (the caller)")
    service: str
    dependency: str = Field(description="what it calls")
    state: str = Field(description="closed, open or half_open")
    error_rate: float = Field(description="errors / calls in the rolling window, 0-1")
    calls: int = Field(description="calls in the rolling window (10 s by default)")
    short_circuited: int = 0
    inflight: int = 0
    latency_mean_s: float | None = None
    retry_in_s: float = 0.0


class ShedOut(BaseModel):
    instance: str
    route: str = Field(description="the routes of this priority (gateways), or * (a limit)")
    priority: int | None = Field(default=None, description="gateways: the priority shed")
    admitted: int = Field(description="requests let through in the window")
    shed: int = Field(description="requests refused (503) in the window")
    shed_rate: float = Field(description="shed / (admitted + shed), 0-1")


class ReplicaOut(BaseModel):
    url: str
    healthy: bool = Field(description="its last replication from this peer went through")
    queued: int = Field(description="replications waiting to be sent to it")


class RegistryOut(BaseModel):
    url: str
    up: bool
    apps: int | None = None
    instances: int | None = None
    renews_last_window: int | None = Field(default=None, description="lease renewals it saw")
    renew_threshold: int | None = Field(
        default=None, description="at or below it, self-preservation keeps expired leases"
    )
    self_preservation: bool | None = None
    replicas: list[ReplicaOut] = Field(default_factory=list, description="its peers")
    error: str | None = None


class ServicesOut(BaseModel):
    model_config = _examples(
        {
            "apps": [
                {
                    "name": "catalog",
                    "instances": [
                        {
                            "id": "catalog-1",
                            "host": "127.0.0.1",
                            "port": 8104,
                            "status": "UP",
                            "zone": "zone-a",
                            "last_renewal": 1767225600.5,
                            "metadata": {"zone": "zone-a"},
                        }
                    ],
                }
            ],
            "breakers": [
                {
                    "instance": "playback-1",
                    "service": "playback",
                    "dependency": "catalog",
                    "state": "closed",
                    "error_rate": 0.0,
                    "calls": 42,
                }
            ],
            "shedding": [
                {
                    "instance": "gateway-1",
                    "route": "catalog, homepage",
                    "priority": 70,
                    "admitted": 1200,
                    "shed": 30,
                    "shed_rate": 0.0244,
                }
            ],
            "window_minutes": 5.0,
            "source": "registry",
            "unavailable": [],
        }
    )

    apps: list[AppOut]
    registries: list[RegistryOut] = Field(description="every registry peer's own state")
    breakers: list[BreakerOut]
    shedding: list[ShedOut]
    window_minutes: float = Field(description="the window the shedding counts cover")
    source: str = Field(description="registry, or cache when the registry did not answer")
    unavailable: list[Unavailable]


class EdgeLoad(BaseModel):
    inflight: int | None = None
    bytes_out_per_s: float | None = None
    requests_per_s: float | None = None


class EdgeOut(BaseModel):
    name: str
    region: str
    cluster: str
    public_url: str
    live: bool = Field(description="steering ranks it: a fresh, healthy report")
    healthy: bool
    load: EdgeLoad
    used_bytes: int | None = None
    capacity_bytes: int | None = None
    hit_ratio: float | None = None
    titles: int | None = Field(default=None, description="asset folders it holds")
    report_age_s: float | None = None
    missed_reports: int | None = None
    last_error: str | None = None


class CdnOut(BaseModel):
    model_config = _examples(
        {
            "edges": [
                {
                    "name": "edge-a1",
                    "region": "local",
                    "cluster": "local-a",
                    "public_url": "http://127.0.0.1:8200",
                    "live": True,
                    "healthy": True,
                    "load": {"inflight": 3, "bytes_out_per_s": 2.5e6, "requests_per_s": 12.0},
                    "used_bytes": 73400320,
                    "capacity_bytes": 1073741824,
                    "hit_ratio": 0.93,
                    "titles": 4,
                    "report_age_s": 0.8,
                }
            ],
            "fill": {"window": {"start_hour": 2, "end_hour": 6}, "last_run": None, "clusters": []},
            "cdn_tier": {"configured": True, "name": "cdn", "base_url": "http://127.0.0.1:8380"},
            "unavailable": [],
        }
    )

    edges: list[EdgeOut]
    fill: dict[str, Any] | None = Field(description="steering's fill state; null if unknown")
    cdn_tier: dict[str, Any] | None = Field(description="the third-party tier; null if unknown")
    unavailable: list[Unavailable]


class Sources(BaseModel):
    here: list[str] = Field(description="instances whose series this process's store holds")
    asked: list[str] = Field(description="instances elsewhere that answered")


class NamesOut(BaseModel):
    model_config = _examples(
        {
            "names": ["gateway.requests", "ipc.server.call"],
            "sources": {"here": ["web-1"], "asked": ["catalog-1", "gateway-1"]},
            "unavailable": [],
        }
    )

    names: list[str]
    sources: Sources
    unavailable: list[Unavailable]


class TagsOut(BaseModel):
    name: str
    tags: dict[str, list[str]]
    sources: Sources
    unavailable: list[Unavailable]


class SeriesOut(BaseModel):
    tags: dict[str, str]
    points: list[tuple[float, float]] = Field(description="[epoch seconds, value], oldest first")


class QueryOut(BaseModel):
    model_config = _examples(
        {
            "name": "ipc.server.call",
            "agg": "sum",
            "where": {"statistic": "count"},
            "group_by": ["service"],
            "step": 10.0,
            "start": 1767222000.0,
            "end": 1767225600.0,
            "series": [{"tags": {"service": "catalog"}, "points": [[1767225590.0, 12.5]]}],
            "sources": {"here": ["web-1"], "asked": ["catalog-1"]},
            "unavailable": [],
        }
    )

    name: str
    agg: str
    where: dict[str, str]
    group_by: list[str]
    step: float
    start: float
    end: float
    series: list[SeriesOut]
    sources: Sources
    unavailable: list[Unavailable]
