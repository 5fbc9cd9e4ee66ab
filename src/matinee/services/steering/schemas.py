"""The steering service's request and response bodies."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
PREFIX_PATTERN = r"^media/assets/[A-Za-z0-9._-]{1,64}/$"


class RankIn(BaseModel):
    """One play to steer: who asks (address, country), what (title, signed prefix), and the
    origin's base URL (the last resort, listed last when given)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "client_ip": "203.0.113.7",
                    "country": "US",
                    "title_id": "tt-blue-planet",
                    "prefix": "media/assets/9a2b/",
                    "origin": "https://matinee.example",
                }
            ]
        },
    )

    client_ip: str | None = Field(default=None, max_length=64)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    title_id: str = Field(pattern=ID_PATTERN)
    prefix: str = Field(
        pattern=PREFIX_PATTERN, description="the asset's folder, media/assets/<id>/"
    )
    origin: str | None = Field(default=None, max_length=300, pattern=r"^https?://")


class HostOut(BaseModel):
    name: str
    base_url: str
    kind: Literal["edge", "cdn", "origin"]
    score: float | None = Field(default=None, description="edges only: see ranking.py")


class RankOut(BaseModel):
    """Delivery hosts, best first: the client region's edges, the CDN tier, the origin."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "region": "local",
                    "hosts": [
                        {
                            "name": "edge-a1",
                            "base_url": "http://127.0.0.1:8301",
                            "kind": "edge",
                            "score": 2.98,
                        },
                        {"name": "cdn", "base_url": "http://127.0.0.1:8380", "kind": "cdn"},
                        {"name": "origin", "base_url": "https://matinee.example", "kind": "origin"},
                    ],
                }
            ]
        }
    )

    region: str | None
    hosts: list[HostOut]


class EdgesOut(BaseModel):
    edges: list[dict[str, Any]]
    cdn: dict[str, Any] | None


class FillOut(BaseModel):
    """Fill progress per cluster (bytes planned, queued, done, failed) and the last run."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "window": {"start_hour": 2, "end_hour": 6},
                    "last_run": {"reason": "window", "planned_bytes": 7_340_032},
                    "clusters": [
                        {
                            "cluster": "local/c1",
                            "region": "local",
                            "planned_bytes": 7_340_032,
                            "queued_bytes": 1_048_576,
                            "done_bytes": 6_291_456,
                            "failed_bytes": 0,
                        }
                    ],
                }
            ]
        }
    )

    window: dict[str, int]
    last_run: dict[str, Any] | None
    clusters: list[dict[str, Any]]
