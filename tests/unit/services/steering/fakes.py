"""Stand-ins for the network around steering: edges that answer reports and fills, and the
history, catalog and media answers the fill reads (in memory)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from matinee.clock import SystemClock
from matinee.delivery.tokens import UrlSigner
from matinee.discovery.models import InstanceInfo
from matinee.resilience.errors import UpstreamConnectError
from matinee.runtime.transport import Headers, Response
from matinee.services.steering.sources import Release, TitleInfo, Window


@dataclass
class FakeEdge:
    """An edge's answers: its report, and the fills it was sent."""

    edge_id: str
    region: str = "local"
    cluster: str = "c1"
    capacity_bytes: int = 10_000
    inflight: int = 0
    bytes_out_per_s: float = 0.0
    healthy: bool = True
    inventory: dict[str, int] = field(default_factory=dict)
    down: bool = False
    fills: list[dict[str, Any]] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://{self.edge_id}.test:80"

    def info(self) -> InstanceInfo:
        return InstanceInfo.for_service(
            "edge",
            self.edge_id,
            f"{self.edge_id}.test",
            80,
            metadata={"region": self.region, "cluster": self.cluster, "public_url": self.public},
        )

    @property
    def public(self) -> str:
        return f"https://{self.edge_id}.example"

    def report(self) -> dict[str, Any]:
        return {
            "edge_id": self.edge_id,
            "cluster": self.cluster,
            "region": self.region,
            "public_url": self.public,
            "healthy": self.healthy,
            "load": {"inflight": self.inflight, "bytes_out_per_s": self.bytes_out_per_s},
            "capacity_bytes": self.capacity_bytes,
            "used_bytes": sum(self.inventory.values()),
            "inventory": self.inventory,
        }

    def filled_keys(self) -> list[str]:
        return [k for f in self.fills for k in f["keys"]]


KEY = b"steering-test-url-signing-key-32b"  # the fleet's URL-signing key in these tests


class EdgeNetwork:
    """A transport that reaches the fake edges (and a CDN health check) by URL."""

    def __init__(self, *edges: FakeEdge, cdn_up: bool = True) -> None:
        self.edges = {e.base_url: e for e in edges}
        self.cdn_up = cdn_up
        self.requests: list[tuple[str, str]] = []

    def add(self, edge: FakeEdge) -> None:
        self.edges[edge.base_url] = edge

    def instances(self) -> list[InstanceInfo]:
        return [e.info() for e in self.edges.values()]

    async def request(
        self,
        method: str,
        url: str,
        headers: Headers = (),
        body: bytes = b"",
        timeout: float = 10.0,  # noqa: ASYNC109 - the protocol's
    ) -> Response:
        self.requests.append((method, url))
        if url.startswith("http://cdn.test"):
            if not self.cdn_up:
                raise UpstreamConnectError("refused")
            return Response(200, [], b"ok\n")
        base, _, path = url.partition(".test:80")
        edge = self.edges.get(base + ".test:80")
        if edge is None or edge.down:
            raise UpstreamConnectError("refused")
        if path == "/edge/report":
            return Response(200, [], json.dumps(edge.report()).encode())
        if path == "/edge/fill" and method == "POST":
            auth = dict(headers).get("authorization", "")
            claims = UrlSigner(KEY, SystemClock()).claims(auth.removeprefix("Bearer "))
            assert claims.prefix == "media/assets/", claims  # steering signs every fill
            edge.fills.append(json.loads(body))
            return Response(202, [], b"{}")
        return Response(404, [], b"{}")

    async def aclose(self) -> None:
        return None


@dataclass
class FakeCatalog:
    """History, catalog and media answers for the fill, per country."""

    plays: dict[str, dict[str, int]] = field(default_factory=dict)  # country -> title -> 7 d
    recent: dict[str, dict[str, int]] = field(default_factory=dict)  # country -> title -> 1 d
    releases_by_country: dict[str, list[Release]] = field(default_factory=dict)
    titles: dict[str, TitleInfo] = field(default_factory=dict)
    assets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def add_title(
        self,
        title_id: str,
        files: list[tuple[str, int]],
        *,
        countries: tuple[str, ...] = ("US",),
        starts_at: float = 0.0,
    ) -> None:
        """A published title with one asset (``a-<title>``) holding ``files`` (relative)."""
        asset = f"a-{title_id}"
        windows = tuple(Window(c, starts_at, None) for c in countries)
        self.titles[title_id] = TitleInfo(title_id, asset, True, windows)
        self.assets[asset] = [(f"assets/{asset}/{name}", size) for name, size in files]

    async def popular(self, country: str, days: int, limit: int) -> dict[str, int]:
        self.calls.append(f"popular {country} {days}")
        source = self.recent if days == 1 else self.plays
        ranked = sorted(source.get(country, {}).items(), key=lambda kv: -kv[1])
        return dict(ranked[:limit])

    async def releases(self, country: str, since: float, until: float) -> list[Release]:
        self.calls.append(f"releases {country}")
        return [
            r for r in self.releases_by_country.get(country, []) if since <= r.released_at <= until
        ]

    async def title(self, title_id: str) -> TitleInfo | None:
        self.calls.append(f"title {title_id}")
        return self.titles.get(title_id)

    async def objects(self, asset_id: str) -> list[tuple[str, int]]:
        self.calls.append(f"objects {asset_id}")
        return self.assets[asset_id]


def rendition_files(rungs: dict[str, int], segments: int) -> list[tuple[str, int]]:
    """A package's files: manifests, then per rung an init and ``segments`` media segments
    of the rung's size each."""
    files = [("manifest.mpd", 10), ("master.m3u8", 10)]
    for rung, size in rungs.items():
        files.append((f"video/{rung}/init.mp4", 5))
        files += [(f"video/{rung}/{n}.m4s", size) for n in range(1, segments + 1)]
    files.append(("audio/en-1/init.mp4", 5))
    files += [(f"audio/en-1/{n}.m4s", 2) for n in range(1, segments + 1)]
    return files
