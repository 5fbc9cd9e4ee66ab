"""Parts of ``history_ingest.py``: the raw Cassandra baseline, heavy-against-light reads, and the
monolith (served in its own process by ``python bench/history_bench_parts.py serve PORT URL``)
that wrk posts heartbeats to."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from cassandra import ConsistencyLevel  # type: ignore[import-untyped]
from cassandra.cluster import (  # type: ignore[import-untyped]
    EXEC_PROFILE_DEFAULT,
    Cluster,
    ExecutionProfile,
)
from cassandra.concurrent import execute_concurrent  # type: ignore[import-untyped]
from cassandra.policies import (  # type: ignore[import-untyped]
    DCAwareRoundRobinPolicy,
    TokenAwarePolicy,
)
from cassandra.query import BatchStatement, BatchType  # type: ignore[import-untyped]

from matinee.clock import SystemClock
from matinee.gateway.app import create_gateway
from matinee.gateway.auth import Identity
from matinee.gateway.config import GatewayConfig, RateLimitConfig
from matinee.history import ViewingEvent, open_history_store, parse_history_url
from matinee.history.cql import Statements, event_params
from matinee.resilience.dependency import DependencyConfig
from matinee.runtime.app import ServiceSpec
from matinee.runtime.context import LimitConfig, RuntimeConfig, ServiceContext
from matinee.runtime.monolith import Monolith
from matinee.runtime.server import ServerConfig, serve_until_signalled
from matinee.runtime.transport import ASGIApp
from matinee.services import registry
from matinee.services.history import SPEC as HISTORY
from matinee.settings import Settings

HERE = Path(__file__).parent
TOKENS = 1000
E2E_CONNECTIONS = 128


RAW_CASSANDRA = (("batch-c64", 64), ("batch-c256", 256))


def raw_cassandra(url: str, reqs: list[list[ViewingEvent]], concurrency: int) -> float:
    """Events/s of the driver's batched insert into the store's own live table (created by the
    store, so the schema is identical): one unlogged batch per request (one partition) through
    ``execute_concurrent`` with ``concurrency`` in flight, ``LOCAL_QUORUM`` as the store."""
    asyncio.run(_create_schema(url))
    parsed = parse_history_url(url)
    host, port = parsed.hosts[0]
    profile = ExecutionProfile(
        load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy()),
        consistency_level=ConsistencyLevel.LOCAL_QUORUM,  # as the store writes
    )
    cluster = Cluster(
        [host], port=port, protocol_version=5, execution_profiles={EXEC_PROFILE_DEFAULT: profile}
    )
    try:
        session = cluster.connect()
        insert = Statements(session, parsed.keyspace).insert
        # Rows prebuilt, as for sqlite3's executemany; binding them into the driver's
        # statements is timed, as executemany's binding is.
        rows = [[event_params(e) for e in r] for r in reqs]
        events = sum(len(r) for r in rows)
        start = time.perf_counter()
        statements: list[tuple[Any, Any]] = []
        for r in rows:
            batch = BatchStatement(batch_type=BatchType.UNLOGGED)
            for row in r:
                batch.add(insert, row)
            statements.append((batch, None))
        execute_concurrent(session, statements, concurrency=concurrency)
        return events / (time.perf_counter() - start)
    finally:
        cluster.shutdown()


async def _create_schema(url: str) -> None:
    async with open_history_store(url):
        pass


async def read_costs(url: str, heavy_events: int, reads: int = 400) -> dict[str, dict[str, float]]:
    """Continue-watching inputs (the newest 25 titles) and a bookmark, timed in alternation for
    three profiles, each rolled up and then given the same 5 recent live events: ``heavy``
    (``heavy_events`` over 500 titles), ``light`` (30 events, one per title: a continue-watching
    row as long as the heavy one's) and ``tiny`` (20 events over 2 titles). heavy/light is the
    target (history size alone); heavy/tiny also counts building a longer row."""
    clock = SystemClock()
    base = clock.time() - 10 * 86400

    def watch(profile: str, n: int, titles: int, at: float) -> list[ViewingEvent]:
        return [
            ViewingEvent(
                profile,
                f"{profile}-{at}-{i}",
                at + i,
                f"title-{i % titles}",
                position_s=float(i % 3000),
                duration_s=3000.0,
                device="tv",
            )
            for i in range(n)
        ]

    profiles = {
        "heavy": (heavy_events, 500),
        "light": (30, 30),
        "tiny": (20, 2),
    }
    names = {kind: f"{kind}-{int(base)}" for kind in profiles}
    async with open_history_store(url) as store:
        for kind, (events, titles) in profiles.items():
            old = watch(names[kind], events, titles, base)
            for first in range(0, len(old), 5000):
                await store.append(old[first : first + 5000])
            await store.roll_up(clock.time() - 3600, profile_id=names[kind])
        now = clock.time()
        for name in names.values():
            await store.append(watch(name, 5, 1, now - 60))
        timings: dict[str, dict[str, list[float]]] = {
            "continue-watching": {k: [] for k in profiles},
            "bookmark": {k: [] for k in profiles},
        }
        for _ in range(reads):
            for kind, name in names.items():
                began = time.perf_counter()
                await store.latest_positions(name, 25)  # a page of 20, and a few more
                timings["continue-watching"][kind].append(time.perf_counter() - began)
                began = time.perf_counter()
                await store.bookmark(name, "title-0")
                timings["bookmark"][kind].append(time.perf_counter() - began)
    out: dict[str, dict[str, float]] = {}
    for what, by in timings.items():
        p50 = {k: statistics.median(v) for k, v in by.items()}
        out[what] = {
            **{f"{k}_p50_ms": 1000 * v for k, v in p50.items()},
            "ratio": p50["heavy"] / p50["light"],
            "heavy_over_tiny": p50["heavy"] / p50["tiny"],
        }
    return out


class StaticTokens:
    """The benchmark's sessions: tok-N is account acct-N with profile prof-N."""

    async def validate(self, token: str) -> Identity | None:
        if not token.startswith("tok-"):
            return None
        n = token[4:]
        return Identity(subject=f"acct-{n}", profile=f"prof-{n}")


def _gateway(ctx: ServiceContext) -> ASGIApp:
    return create_gateway(
        ctx,
        config=ctx.config.gateway,
        validator=StaticTokens(),
        identity_key=ctx.config.identity_key,
    )


async def serve(port: int, history_url: str, data_dir: Path) -> None:
    # As in gateway_proxy.py: the per-client rate limit (every request comes from one address)
    # is raised out of reach and the history dependency's bulkhead above wrk's connections;
    # its timeout is 5 s (an acknowledgement waits for a commit). The instances' adaptive
    # concurrency limit starts at 256 (not 20): group commit needs many requests waiting at
    # once, and a request that waits for a shared fsync is not a sign of overload. All else is
    # the default.
    config = RuntimeConfig(
        dependencies={"history": DependencyConfig(timeout_s=5.0, max_concurrent=512, retries=0)},
        gateway=GatewayConfig(rate_limit=RateLimitConfig(rate=1e6, burst=1e6)),
        limit=LimitConfig(initial=256, min=256, max=2048),
    )
    settings = Settings(data_dir=data_dir, history_url=history_url)
    services = [registry.SPEC, HISTORY, ServiceSpec("gateway", asgi=_gateway)]
    monolith = Monolith(settings, config, services=services)
    await serve_until_signalled(
        monolith,
        ServerConfig(port=port),
        start=monolith.start,
        leave=monolith.leave,
        stop=monolith.stop,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def e2e_run(tmp: Path, seconds: float, sync: str, per_request: int = 1) -> dict[str, Any]:
    """Heartbeats/s through the gateway of a monolith in its own process (history on SQLite
    with ``synchronous=sync``)."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: run scripts/test-deps.sh")
    port = _free_port()
    url = f"sqlite:///{tmp / f'e2e-{sync}.db'}?synchronous={sync}"
    argv = [sys.executable, __file__, "serve", str(port), url, str(tmp / "e2e")]
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except (urllib.error.URLError, OSError):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the benchmark monolith did not start") from None
                time.sleep(0.2)
        target = f"http://127.0.0.1:{port}"
        _wrk(target, 3.0, per_request)  # warm-up
        run = _wrk(target, seconds, per_request)
    finally:
        server.terminate()
        server.wait(timeout=30)
    requests = run["requests"] / (run["duration_us"] / 1e6)
    errors = sum(run[k] for k in ("connect", "read", "write", "status", "timeout"))
    return {
        "synchronous": sync,
        "connections": E2E_CONNECTIONS,
        "per_request": per_request,
        "requests_per_s": requests,
        "heartbeats_per_s": requests * per_request,
        "p50_ms": run["p50_us"] / 1000,
        "p99_ms": run["p99_us"] / 1000,
        "errors": errors,
    }


def _wrk(target: str, seconds: float, per_request: int) -> dict[str, int]:
    argv = [
        "wrk", "-t2", f"-c{E2E_CONNECTIONS}", f"-d{seconds:g}s", "--timeout", "10s",
        "-s", str(HERE / "history_ingest.lua"), target, "--", str(TOKENS), str(per_request),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH "))
    parsed: dict[str, int] = json.loads(line.removeprefix("BENCH "))
    return parsed


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    import uvloop

    uvloop.run(serve(int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])))
