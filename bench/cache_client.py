"""Benchmark: get and set through matinee's cache client against pymemcache used directly.

One memcached server (Debian's, started here on a free port in 15910-15919 and stopped at the
end), 100-byte values over 10,000 keys. The machine is shared and noisy, so the clients run in
short interleaved slices: each round gives every client ``--slice`` seconds of sets, then of
gets, in an order that reverses every round, and a ratio is taken within each round (so load
that drifts over seconds hits both sides); the median over rounds counts. Latency is timed
around each call.

* ``pymemcache``: ``pymemcache.Client`` (4.0, pure Python, ``noreply=False`` so a set waits
  for STORED as ours does), one synchronous loop: the ratio's denominator;
* ``matinee c=1``: ``open_cache("memcached://...")`` on uvloop, one call at a time;
* ``matinee c=32``: the same client with 32 calls in flight (how an asyncio service uses it);
* ``pymemcache in thread``: pymemcache behind ``asyncio.to_thread``, 32 in flight, the other
  way to use a sync client from asyncio (it lost; kept so the choice can be re-checked).

Target (issue 5): matinee >= 0.8x pymemcache's ops/s for get and for set.
Results go to ``bench/out/cache_client.json``.

    .venv/bin/python bench/cache_client.py [--rounds 15] [--slice 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import uvloop
from pymemcache.client.base import Client, PooledClient  # type: ignore[import-untyped]

from matinee.cache import open_cache
from matinee.clock import SystemClock
from matinee.telemetry.metrics import Registry
from matinee.testing.servers.memcached import MemcachedProcess
from matinee.testing.servers.process import pick_port

OUT = Path(__file__).parent / "out"
KEYS = [f"title:{i}" for i in range(10_000)]
VALUE = b"x" * 100
CONCURRENCY = 32
CLIENTS = ("pymemcache", "matinee c=1", f"matinee c={CONCURRENCY}", "pymemcache in thread")


@dataclass
class Run:
    client: str
    op: str
    round: int
    ops_per_s: float
    p50_us: float
    p99_us: float


def _summary(client: str, op: str, rnd: int, latencies: list[float], elapsed: float) -> Run:
    latencies.sort()
    n = len(latencies)
    return Run(
        client,
        op,
        rnd,
        n / elapsed,
        latencies[n // 2] * 1e6,
        latencies[min(n - 1, int(n * 0.99))] * 1e6,
    )


def run_pymemcache(port: int, op: str, duration: float, rnd: int) -> Run:
    client = Client(("127.0.0.1", port), default_noreply=False)

    def call(key: str) -> object:
        return client.set(key, VALUE) if op == "set" else client.get(key)

    latencies: list[float] = []
    clock = time.perf_counter
    start = clock()
    deadline = start + duration
    i = 0
    now = start
    while now < deadline:
        t0 = now
        call(KEYS[i % len(KEYS)])
        now = clock()
        latencies.append(now - t0)
        i += 1
    client.close()
    return _summary("pymemcache", op, rnd, latencies, now - start)


async def _drive(  # noqa: PLR0917 - a private helper with one caller per client kind
    name: str,
    op: str,
    call: Callable[[str], Awaitable[object]],
    concurrency: int,
    duration: float,
    rnd: int,
) -> Run:
    latencies: list[float] = []
    clock = time.perf_counter
    start = clock()
    deadline = start + duration

    async def worker(offset: int) -> None:
        i = offset
        while True:
            t0 = clock()
            if t0 >= deadline:
                return
            await call(KEYS[i % len(KEYS)])
            latencies.append(clock() - t0)
            i += concurrency

    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return _summary(name, op, rnd, latencies, clock() - start)


async def run_matinee(port: int, op: str, duration: float, rnd: int, concurrency: int) -> Run:
    cache = open_cache(
        f"memcached://bench=127.0.0.1:{port}",
        name="bench",
        clock=SystemClock(),
        metrics=Registry(),
    )
    await cache.set("warm", VALUE, ttl=None)  # connect before the clock starts

    async def call(key: str) -> object:
        if op == "set":
            return await cache.set(key, VALUE, ttl=None)
        return await cache.get(key)

    try:
        return await _drive(f"matinee c={concurrency}", op, call, concurrency, duration, rnd)
    finally:
        await cache.close()


async def run_thread(port: int, op: str, duration: float, rnd: int) -> Run:
    # pymemcache's PooledClient hands each thread its own connection
    client = PooledClient(("127.0.0.1", port), default_noreply=False, max_pool_size=CONCURRENCY)

    async def call(key: str) -> object:
        if op == "set":
            return await asyncio.to_thread(client.set, key, VALUE)
        return await asyncio.to_thread(client.get, key)

    try:
        return await _drive("pymemcache in thread", op, call, CONCURRENCY, duration, rnd)
    finally:
        client.close()


def one(client: str, port: int, op: str, duration: float, rnd: int) -> Run:
    if client == "pymemcache":
        return run_pymemcache(port, op, duration, rnd)
    if client == "pymemcache in thread":
        return uvloop.run(run_thread(port, op, duration, rnd))
    concurrency = int(client.split("=")[1])
    return uvloop.run(run_matinee(port, op, duration, rnd, concurrency))


def report(runs: list[Run]) -> dict[str, object]:
    table: dict[str, dict[str, dict[str, float]]] = {}
    for client in CLIENTS:
        for op in ("get", "set"):
            mine = [r for r in runs if r.client == client and r.op == op]
            base = {r.round: r for r in runs if r.client == "pymemcache" and r.op == op}
            table.setdefault(client, {})[op] = {
                "ops_per_s": statistics.median(r.ops_per_s for r in mine),
                "p50_us": statistics.median(r.p50_us for r in mine),
                "p99_us": statistics.median(r.p99_us for r in mine),
                # paired within each round, then the median over rounds
                "ratio": statistics.median(r.ops_per_s / base[r.round].ops_per_s for r in mine),
            }
    print(f"\n{'client':<22}{'op':<5}{'ops/s':>10}{'p50 us':>9}{'p99 us':>9}{'ratio':>8}")
    for client, ops in table.items():
        for op, row in ops.items():
            print(
                f"{client:<22}{op:<5}{row['ops_per_s']:>10.0f}{row['p50_us']:>9.0f}"
                f"{row['p99_us']:>9.0f}{row['ratio']:>7.2f}x"
            )
    return {"median": table, "runs": [asdict(r) for r in runs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--slice", type=float, default=0.5, help="seconds per client, op, round")
    args = parser.parse_args()
    server = MemcachedProcess(pick_port(15910, 15919), memory_mb=256, threads=2)
    server.start()
    runs: list[Run] = []
    try:
        for rnd in range(args.rounds):
            order = CLIENTS if rnd % 2 == 0 else tuple(reversed(CLIENTS))
            for op in ("set", "get"):
                for client in order:
                    run = one(client, server.port, op, args.slice, rnd)
                    runs.append(run)
                    print(
                        f"round {rnd} {op} {client:<22} {run.ops_per_s:>9.0f} ops/s "
                        f"p50 {run.p50_us:.0f} us p99 {run.p99_us:.0f} us",
                        flush=True,
                    )
    finally:
        server.stop()
    result = report(runs)
    result["settings"] = {
        "rounds": args.rounds,
        "slice_s": args.slice,
        "value_bytes": len(VALUE),
        "keys": len(KEYS),
        "concurrency": CONCURRENCY,
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "cache_client.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
