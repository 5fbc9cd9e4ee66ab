"""Benchmark: sign-in, a title page and a playback start through the gateway, on SQLite and on
PostgreSQL, each against a reference.

For each database a fleet of single instances runs as real processes on loopback
(``services_api_stack.py``): registry, media, identity, billing, catalog, playback and a
gateway, migrated with ``matinee db upgrade`` and seeded through the services' Python APIs
(16 premium accounts with a profile each, two published movies linked to one packaged asset).
Every account signs in through the gateway and selects its profile. PostgreSQL is a cluster of
its own (``matinee.testing.servers``); both databases live in memory (``/dev/shm``).

Cases (``wrk -t1``, 16 connections unless said, requests rotating over the accounts):

* ``signin-1``: ``POST /api/identity/signin`` through the gateway, one connection. Sign-in is
  bound by argon2id (19 MiB, t=2) by design; the reference is one raw argon2id verification
  with the same cost, timed alone in this process (wall and CPU time) before each database's
  sign-ins in every round, and once before anything starts: the median sign-in's latency over
  the hash's wall time.
* ``signin``: the same with one connection per CPU (identity hashes one password per CPU at a
  time; more connections only lengthen its queue): the CPU time a sign-in costs, every process
  together, over the hash's CPU time.
* ``title-gateway`` / ``title-direct``: ``GET /api/catalog/titles/{id}`` with a session
  (Bearer token) through the gateway, and the same request sent straight to the catalog
  instance with the identity headers the gateway would have signed: the gateway's overhead.
  The catalog reads title pages through its page cache (the embedded in-process cache, the
  default ``MATINEE_CACHE_URL``), so this is mostly a cache hit.
* ``start-gateway`` / ``start-direct``: ``POST /api/playback/start`` likewise (through the
  gateway, and straight to the playback instance; playback's own calls to identity, billing,
  catalog and media go through its client stack either way). Each account plays on 4 devices
  (the premium plan's limit), and each device alternates between the two titles, so every
  start takes a new lease (the device's previous one, on the other title, ends in the same
  transaction) and no start ever meets the stream limit.

Every case runs ``--duration`` seconds once per round, rounds and databases interleaved
(SQLite's cases, PostgreSQL's, SQLite's, ...); medians of ``--rounds`` count. Requests per
second count 2xx answers only; a run where more than 1 % answered otherwise is marked. CPU per
request is every process's user + system time over the run (the database server's as ``db``).
The runtime config every process reads is ``services_api_stack.RUNTIME_TOML`` (why each
setting differs from the default is written there). Results go
to ``bench/out/services_api.json``; a Markdown table is printed.

    .venv/bin/python bench/services_api.py [--rounds 3] [--duration 10] \
        [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from argon2 import PasswordHasher, Type

from matinee.db.urls import Dialect
from matinee.services.identity.config import HashingConfig
from matinee.testing.servers import DIALECTS, db_urls, private_dir

sys.path.insert(0, str(Path(__file__).parent))
from _common import cpu_model
from services_api_stack import DEVICES, Stack, postgres_pids

OUT = Path(__file__).parent / "out"
LUA = Path(__file__).with_suffix(".lua")
CONNECTIONS = 16
# Identity hashes one password per CPU at a time, so more sign-in connections than CPUs only
# queue there (with the default shedding target, 4 or 16 of them on a busy machine push
# identity's mean latency past the gateway's threshold, and it sheds sign-ins with 503).
SIGNIN_CONNECTIONS = os.cpu_count() or 1
DB_PORTS = (16480, 16499)
NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
MAX_ERROR_SHARE = 0.01  # of a case's requests; above it the table marks the case

Request = tuple[str, str, dict[str, str], str | None]  # method, path, headers, body


@dataclass(frozen=True)
class Case:
    name: str
    target: str  # the process wrk talks to
    connections: int = CONNECTIONS


CASES = (
    Case("signin-1", "gateway", connections=1),
    Case("signin", "gateway", connections=SIGNIN_CONNECTIONS),
    Case("title-gateway", "gateway"),
    Case("title-direct", "catalog"),
    Case("start-gateway", "gateway"),
    Case("start-direct", "playback"),
)


@dataclass
class Run:
    database: str
    case: str
    round: int
    rps: float  # 2xx answers per second
    requests: int  # answered or failed
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    statuses: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)  # the first answer of each other status
    cpu_ms_per_request: dict[str, float] = field(default_factory=dict)


def requests_for(stack: Stack, case: Case) -> list[Request]:
    """The requests a case rotates over, signed now where they go straight to a service."""
    members = stack.household.members
    titles = stack.household.titles
    json_type = {"content-type": "application/json"}

    def auth(n: int) -> dict[str, str]:
        m = members[n]
        if case.target == "gateway":
            return {"authorization": f"Bearer {m.token}"}
        return stack.signed(m)

    if case.name.startswith("signin"):
        return [
            (
                "POST",
                "/api/identity/signin",
                json_type,
                json.dumps({"email": m.email, "password": m.password}),
            )
            for m in members
        ]
    if case.name.startswith("title"):
        path = f"/api/catalog/titles/{titles[0]}"
        return [("GET", path, auth(n), None) for n in range(len(members))]
    # Request i: account i % A, device (i // A) % 4, title (i // 4A) % 2 - each (account,
    # device) pair comes back every 4A requests with the other title.
    out: list[Request] = []
    accounts = len(members)
    for i in range(accounts * DEVICES * len(titles)):
        n, k = i % accounts, i // accounts
        body = {
            "title_id": titles[(k // DEVICES) % len(titles)],
            "device_id": f"bench-{k % DEVICES}",
        }
        out.append(("POST", "/api/playback/start", {**json_type, **auth(n)}, json.dumps(body)))
    return out


def lua_string(text: str) -> str:
    if "]==]" in text:
        raise ValueError(f"cannot quote {text!r} as a Lua long string")
    return f"[==[{text}]==]"


def write_requests(path: Path, requests: list[Request]) -> None:
    lines = ["return {"]
    for method, target, headers, body in requests:
        pairs = ", ".join(f"[ {lua_string(k)} ] = {lua_string(v)}" for k, v in headers.items())
        lua_body = "nil" if body is None else lua_string(body)
        lines.append(f"  {{{lua_string(method)}, {lua_string(target)}, {{{pairs}}}, {lua_body}}},")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n")


def wrk(stack: Stack, case: Case, seconds: float, round_: int) -> Run:
    data = stack.dir / f"{case.name}.requests.lua"
    write_requests(data, requests_for(stack, case))
    argv = ["wrk", "-t1", f"-c{case.connections}", f"-d{seconds:g}s", "--timeout", "10s"]
    samples = stack.dir / f"{case.name}.samples.txt"
    argv += ["-s", str(LUA), stack.url(case.target), "--", str(data), str(samples)]
    before = stack.cpu_seconds()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stdout}{done.stderr}")
    out = done.stdout
    after = stack.cpu_seconds()
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    r = json.loads(line.removeprefix("BENCH "))
    requests = max(int(r["requests"]), 1)
    ok = sum(n for status, n in r["statuses"].items() if status.startswith("2"))
    errors = sum(int(r[k]) for k in ("connect", "read", "write", "timeout")) + requests - ok
    cpu = {name: round((after[name] - before[name]) * 1e3 / requests, 3) for name in after}
    return Run(
        database=stack.name,
        case=case.name,
        round=round_,
        rps=round(ok / (int(r["duration_us"]) / 1e6), 1),
        requests=requests,
        p50_ms=r["p50_us"] / 1000,
        p90_ms=r["p90_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        max_ms=r["max_us"] / 1000,
        errors=errors,
        statuses=r["statuses"],
        samples=samples.read_text().splitlines(),
        cpu_ms_per_request=cpu,
    )


@dataclass(frozen=True)
class HashCost:
    """One argon2id verification at identity's default cost, alone in this process: median
    wall time and CPU time (this thread's) in milliseconds."""

    wall_ms: float
    cpu_ms: float


def hash_cost(samples: int = 10) -> HashCost:
    config = HashingConfig()
    ph = PasswordHasher(
        time_cost=config.time_cost,
        memory_cost=config.memory_kib,
        parallelism=config.parallelism,
        type=Type.ID,
    )
    stored = ph.hash(b"bench password 0")
    walls, cpus = [], []
    for _ in range(samples):
        w0, c0 = time.perf_counter(), time.thread_time()
        ph.verify(stored, b"bench password 0")
        cpus.append(time.thread_time() - c0)
        walls.append(time.perf_counter() - w0)
    return HashCost(statistics.median(walls) * 1e3, statistics.median(cpus) * 1e3)


def medians(runs: list[Run]) -> dict[str, dict[str, dict[str, float]]]:
    """{database: {case: {rps, p50_ms, p99_ms, cpu_ms, rps_min, rps_max, errors, error_share}}}:
    medians over rounds (errors summed). A gateway case also has the median over rounds of its
    request rate over the direct case's in the same round (``rps_ratio``) and of the p99 it
    adds (``p99_added_ms``)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for run in runs:
        out.setdefault(run.database, {}).setdefault(run.case, {})
    for database, cases in out.items():
        for case in cases:
            mine = [r for r in runs if r.database == database and r.case == case]
            cases[case] = {
                key: round(statistics.median(getattr(r, key) for r in mine), 2)
                for key in ("rps", "p50_ms", "p99_ms")
            }
            cases[case]["cpu_ms"] = round(
                statistics.median(sum(r.cpu_ms_per_request.values()) for r in mine), 2
            )
            cases[case]["rps_min"] = min(r.rps for r in mine)
            cases[case]["rps_max"] = max(r.rps for r in mine)
            cases[case]["errors"] = sum(r.errors for r in mine)
            cases[case]["error_share"] = round(
                sum(r.errors for r in mine) / max(sum(r.requests for r in mine), 1), 4
            )
            if case.endswith("-gateway"):  # against the direct run of the same round
                direct = {
                    r.round: r
                    for r in runs
                    if r.database == database and r.case == case.replace("gateway", "direct")
                }
                pairs = [(r, direct[r.round]) for r in mine if r.round in direct]
                cases[case]["rps_ratio"] = round(
                    statistics.median(g.rps / max(d.rps, 1e-9) for g, d in pairs), 3
                )
                cases[case]["p99_added_ms"] = round(
                    statistics.median(g.p99_ms - d.p99_ms for g, d in pairs), 2
                )
    return out


def table(med: dict[str, dict[str, dict[str, float]]], hashed: HashCost, quiet: HashCost) -> str:
    """The Markdown table of the results, with each case's reference and ratio."""
    head = (
        "| request | database | sent to | req/s (range) | p50 ms | p99 ms | CPU ms/req | reference "
    )
    lines = [head + "| ratio |", "|---|---|---|---|---|---|---|---|---|"]

    def row(where: tuple[str, str, str], m: dict[str, float], ref: str, ratio: str) -> None:
        label, db, to = where
        mark = " (!)" if m["error_share"] > MAX_ERROR_SHARE else ""
        lines.append(
            f"| {label} | {NAMES.get(db, db)} | {to} | {m['rps']:,.0f} "
            f"({m['rps_min']:,.0f}-{m['rps_max']:,.0f}){mark} | {m['p50_ms']:.1f} "
            f"| {m['p99_ms']:.1f} | {m['cpu_ms']:.2f} | {ref} | {ratio} |"
        )

    for db, cases in med.items():
        s1, sn = cases["signin-1"], cases["signin"]
        row(
            ("sign-in (1 conn.)", db, "gateway"),
            s1,
            f"argon2id verify alone: {hashed.wall_ms:.1f} ms ({quiet.wall_ms:.1f} ms before the "
            "stacks started)",
            f"p50 **{s1['p50_ms'] / hashed.wall_ms:.2f}x** the hash's time",
        )
        row(
            (f"sign-in ({SIGNIN_CONNECTIONS} conn.)", db, "gateway"),
            sn,
            f"argon2id verify alone: {hashed.cpu_ms:.1f} ms CPU",
            f"CPU **{sn['cpu_ms'] / hashed.cpu_ms:.2f}x** the hash's",
        )
        for label, case in (("title page", "title"), ("playback start", "start")):
            gw, direct = cases[f"{case}-gateway"], cases[f"{case}-direct"]
            row(
                (label, db, "gateway"),
                gw,
                "direct (next row)",
                f"**{gw['rps_ratio']:.2f}x** direct req/s, p99 {gw['p99_added_ms']:+.1f} ms",
            )
            service = "catalog" if case == "title" else "playback"
            row((label, db, f"{service} directly"), direct, "", "")
    errors = sum(int(m["errors"]) for cases in med.values() for m in cases.values())
    if errors:
        lines.append(
            f"\n{errors} requests failed or answered non-2xx (see the JSON); (!) marks a case "
            f"where they were more than {MAX_ERROR_SHARE:.0%}"
        )
    return "\n".join(lines)


def versions() -> dict[str, str]:
    from importlib import metadata  # noqa: PLC0415 - only for the record

    import granian  # noqa: PLC0415

    wrk_path = shutil.which("wrk") or "wrk"
    done = subprocess.run([wrk_path, "-v"], capture_output=True, text=True, check=False)
    return {
        "python": sys.version.split()[0],
        "granian": granian.__version__,
        "argon2-cffi": metadata.version("argon2-cffi"),
        "wrk": (done.stdout + done.stderr).strip().splitlines()[0],
        "cpus": str(os.cpu_count()),
        "cpu_model": cpu_model(),
    }


def measure(stacks: list[Stack], args: argparse.Namespace) -> tuple[list[Run], list[HashCost]]:
    """Warm up, then the interleaved rounds; the runs, and the hash cost measured before each
    stack's sign-in cases in every round."""
    runs: list[Run] = []
    hashes: list[HashCost] = []
    print("stacks up; warming up", flush=True)
    for stack in stacks:
        for case in CASES:
            wrk(stack, case, args.warmup, 0)
    for n in range(1, args.rounds + 1):
        for stack in stacks:
            hashes.append(hash_cost())
            for case in CASES:
                run = wrk(stack, case, args.duration, n)
                runs.append(run)
                print(
                    f"round {n} {stack.name:10} {case.name:14} {run.rps:8.1f}/s "
                    f"p50 {run.p50_ms:7.1f} p99 {run.p99_ms:7.1f} ms {run.statuses}",
                    flush=True,
                )
    return runs, hashes


def run_stacks(
    dialects: tuple[Dialect, ...], args: argparse.Namespace
) -> tuple[list[Run], list[HashCost]]:
    """Start a stack per database, measure, stop everything."""
    root = private_dir("matinee-bench-api-")
    stacks: list[Stack] = []
    try:
        with db_urls(root, dialects, ports=DB_PORTS, migrate=False) as urls:
            try:
                for dialect in dialects:
                    stack = Stack(dialect, urls[dialect], root)
                    stacks.append(stack)
                    print(f"{dialect}: {stack.migrate()}", flush=True)
                    stack.seed()
                    if dialect == "postgresql":
                        stack.extra_pids = postgres_pids(urls[dialect])
                    stack.start()
                    stack.sign_in()
                return measure(stacks, args)
            except BaseException:
                for stack in stacks:
                    print(stack.tail(), file=sys.stderr)
                raise
            finally:
                for stack in stacks:
                    stack.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds per case, unmeasured")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--out", type=Path, default=OUT / "services_api.json")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: run scripts/test-deps.sh")
    dialects = tuple(d for d in DIALECTS if d in args.databases.split(","))
    if not dialects:
        raise SystemExit(f"--databases: choose among {', '.join(DIALECTS)}")
    load_before = os.getloadavg()
    quiet = hash_cost(20)  # before anything of ours runs (others' work may)
    runs, hashes = run_stacks(dialects, args)
    load_after = os.getloadavg()

    hashed = HashCost(
        statistics.median(h.wall_ms for h in hashes), statistics.median(h.cpu_ms for h in hashes)
    )
    med = medians(runs)
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "connections": CONNECTIONS,
        "rounds": args.rounds,
        "seconds_per_run": args.duration,
        "versions": versions(),
        "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "argon2id_verify": {
            "median_of_rounds": asdict(hashed),
            "quiet_before": asdict(quiet),
            "per_round_and_database": [asdict(h) for h in hashes],
        },
        "median": med,
        "runs": [asdict(r) for r in runs],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(
        f"\nwrk -t1 -c{CONNECTIONS} (sign-in -c{SIGNIN_CONNECTIONS} and -c1), medians of "
        f"{args.rounds} interleaved "
        f"rounds of {args.duration:g} s\n"
    )
    print(table(med, hashed, quiet))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
