"""Benchmark: the edge appliance's hit path against nginx serving the same files from disk.

One run, real processes on loopback: an edge (``python -m matinee.cdn.edge``: granian's embedded
server, one worker, hits sent with ASGI ``pathsend``), the same edge with its optional RAM tier
(``--memory-bytes``: hot objects sent as a body), the same edge with nginx in front (``--front
nginx``: nginx sends hits with ``sendfile`` once the Python edge behind it has granted that
token that folder, and the Python edge counts them from nginx's hit log), and plain nginx (one
worker, ``sendfile on``, ``open_file_cache``), all four serving the very same files: every edge
and nginx read one edge's ``objects/`` folder. The edges are warm (the files are on their disk
and their index is rebuilt from them at start), so every request is a hit. Edge requests carry a
signed token as a player's does (one per title, with the plan's height cap, so the rendition
folder is checked too), checked on every request (by the Python edge, or by nginx's test of the
grant the Python edge made at the token's first request in each folder); nginx's are plain
paths.

For each segment size (1 MB and 100 KB; 64 distinct files each, so the servers read from the
page cache, not from one hot file), wrk runs ``-t1 -cN`` (closed loop) against each server in
interleaved rounds (edge, edge-ram, nginx, edge, ...); each request takes the next file of the
list. The median round counts: requests/s, GB/s (bytes wrk received), p50/p99 and CPU time
per request; the ratio against nginx is the median of the per-round ratios (each round's
servers run back to back, so drift of this shared machine between rounds cancels out).

Equal worker counts (the default): one granian worker against one nginx worker, every process
free to use both cores (granian's worker runs Python on one thread and its Rust I/O on others;
nginx's worker is one thread). ``--pin`` puts both servers on CPU 1 and wrk on CPU 0: equal
CPU instead. Target (issue 6): edge >= 0.9x nginx. Results go to
``bench/out/edge_vs_nginx.json`` (``edge_vs_nginx_pinned.json`` with ``--pin``).

    .venv/bin/python bench/edge_vs_nginx.py [--rounds 5] [--duration 8] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import (
    cpu_seconds,
    free_port,
    get,
    require_tools,
    run_wrk,
    stop_processes,
    versions,
    wait_ok,
    wrk_errors,
)

from matinee.cdn.nginx import nginx_binary
from matinee.clock import SystemClock
from matinee.delivery.tokens import UrlSigner

OUT = Path(__file__).parent / "out"
LUA = Path(__file__).with_suffix(".lua")
SIZES = {"1MB": 1024 * 1024, "100KB": 100 * 1024}
FILES = 64
SERVERS = ("edge", "edge-ram", "edge-nginx", "nginx")
EDGES = {  # each edge's own options
    "edge": ["--memory-bytes", "0"],
    "edge-ram": ["--memory-bytes", str(128 * 1024 * 1024)],  # the RAM tier
    "edge-nginx": ["--front", "nginx"],
}
HEIGHT_CAP = 1080  # a Standard plan's token
MASTER = "".join(  # the title's master playlist: one rendition folder per segment size
    f"#EXT-X-STREAM-INF:BANDWIDTH={bw},RESOLUTION={res}\n{label.lower()}/index.m3u8\n"
    for label, bw, res in (("1MB", 6_000_000, "1920x1080"), ("100KB", 730_000, "768x432"))
)
KEY = "bench-edge-signing-key-0123456789"
PREFIX = "media/assets/bench/"

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    open_file_cache max=1000 inactive=60s;
    keepalive_requests 1000000;
    types {{ video/iso.segment m4s; }}
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    server {{
        listen 127.0.0.1:{port} backlog=2048;
        root {root};
    }}
}}
"""


@dataclass
class Run:
    """One wrk run against one server for one segment size."""

    server: str
    size: str
    rps: float
    gbps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us_per_request: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


class Stack:
    """The edge and nginx over one folder of segments; stopped when the run ends."""

    def __init__(self, tmp: Path, *, pin: bool) -> None:
        self.tmp = tmp
        self.cpus = dict.fromkeys(SERVERS, "1") | {"wrk": "0"} if pin else {}
        self.ports = {name: free_port() for name in SERVERS}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.root = tmp / "edge"
        self.env = {
            **os.environ,
            "MATINEE_DATA_DIR": str(tmp / "data"),
            "MATINEE_URL_SIGNING_KEY": KEY,
        }

    def pinned(self, name: str, argv: list[str]) -> list[str]:
        cpu = self.cpus.get(name)
        return argv if cpu is None else ["taskset", "-c", cpu, *argv]

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        with (self.tmp / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen(
                self.pinned(name, argv), stdout=log, stderr=subprocess.STDOUT, env=self.env
            )
        self.procs[name] = proc
        return proc

    def write_segments(self) -> dict[str, list[str]]:
        """The files, on the edge's disk; the media keys of each size."""
        rng = random.Random(6)  # noqa: S311 - segment bytes, not a secret
        keys: dict[str, list[str]] = {}
        for label, size in SIZES.items():
            keys[label] = []
            for n in range(FILES):
                key = f"{PREFIX}{label.lower()}/{n:05d}.m4s"
                path = self.root / "objects" / key
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(rng.randbytes(size))
                keys[label].append(key)
        (self.root / "objects" / PREFIX / "master.m3u8").write_text(f"#EXTM3U\n{MASTER}")
        return keys

    def start(self) -> dict[str, list[str]]:
        keys = self.write_segments()
        capacity = sum(SIZES.values()) * FILES * 2
        for name, options in EDGES.items():  # every edge reads the same folder
            argv = [sys.executable, "-m", "matinee.cdn.edge", "--port", str(self.ports[name])]
            argv += ["--root", str(self.root), "--capacity-bytes", str(capacity)]
            argv += [*options, "--instance-id", name]
            argv += ["--origin", "http://127.0.0.1:9", "--log-level", "WARNING"]
            proc = self._spawn(name, argv)
            wait_ok(f"{self.base(name)}/readyz", name, proc)
        self.tmp.chmod(0o755)  # nginx's workers may run as another user
        conf = self.tmp / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(tmp=self.tmp, port=self.ports["nginx"], root=self.root / "objects")
        )
        proc = self._spawn("nginx", [nginx_binary(), "-p", str(self.tmp), "-c", str(conf)])
        wait_ok(f"{self.base('nginx')}/{keys['100KB'][0]}", "nginx", proc)
        return keys

    def base(self, server: str) -> str:
        return f"http://127.0.0.1:{self.ports[server]}"

    def stop(self) -> None:
        stop_processes(self.procs)


@contextmanager
def running_stack(*, pin: bool) -> Iterator[tuple[Stack, dict[str, list[str]]]]:
    with tempfile.TemporaryDirectory(prefix="matinee-bench-edge-") as tmp:
        stack = Stack(Path(tmp), pin=pin)
        try:
            keys = stack.start()
            yield stack, keys
        except BaseException:
            for name in stack.procs:
                log = (stack.tmp / f"{name}.log").read_text(errors="replace")
                print(f"--- {name} log (tail) ---\n{log[-2000:]}", file=sys.stderr)
            raise
        finally:
            stack.stop()


def path_lists(stack: Stack, keys: dict[str, list[str]]) -> dict[tuple[str, str], Path]:
    """For each (server, size), a file of request paths: signed for the edge, plain for nginx."""
    signer = UrlSigner(KEY.encode(), SystemClock())
    token, _ = signer.issue(PREFIX, 24 * 3600, max_height=HEIGHT_CAP)
    lists = {}
    for label, found in keys.items():
        for server in SERVERS:
            paths = [f"/{k}" if server == "nginx" else f"/t/{token}/{k}" for k in found]
            out = stack.tmp / f"paths-{server}-{label}.txt"
            out.write_text("\n".join(paths) + "\n")
            lists[(server, label)] = out
    return lists


def check_same_bytes(stack: Stack, lists: dict[tuple[str, str], Path]) -> None:
    """Every server answers every file with the same bytes; the edges from their disk (the
    first request also lets the Python edge behind nginx publish the title's heights)."""
    for label in SIZES:
        nginx_paths = lists[("nginx", label)].read_text().split()
        for edge in EDGES:
            edge_paths = lists[(edge, label)].read_text().split()
            for e, n in list(zip(edge_paths, nginx_paths, strict=True))[:4]:
                es, eb = get(stack.base(edge) + e)
                ns, nb = get(stack.base("nginx") + n)
                if (es, ns) != (200, 200) or eb != nb:
                    raise SystemExit(f"{edge} and nginx answer {n} differently: {es} / {ns}")
    for edge in EDGES:
        report = json.loads(get(stack.base(edge) + "/edge/report")[1])
        if report["misses"] or report["objects"] != FILES * len(SIZES) + 1:  # + the master
            raise SystemExit(f"{edge} is not warm: {report}")


def wrk(
    stack: Stack,
    server: str,
    label: str,
    lists: dict[tuple[str, str], Path],
    *,
    seconds: float,
    connections: int,
) -> Run:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s"]
    argv += ["-s", str(LUA), stack.base(server), "--", str(lists[(server, label)])]
    before = cpu_seconds(stack.procs[server].pid)
    r = run_wrk(stack.pinned("wrk", argv))
    after = cpu_seconds(stack.procs[server].pid)
    took = int(r["duration_us"]) / 1e6
    requests = max(int(r["requests"]), 1)
    return Run(
        server=server,
        size=label,
        rps=round(requests / took, 1),
        gbps=round(int(r["bytes"]) / took / 1e9, 3),
        p50_ms=r["p50_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        errors=wrk_errors(r),
        cpu_us_per_request=round((after - before) * 1e6 / requests, 1),
    )


def medians(runs: list[Run]) -> dict[str, dict[str, dict[str, float]]]:
    """Per segment size and server, the median round's figures."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for label in SIZES:
        out[label] = {}
        for server in SERVERS:
            mine = [r for r in runs if r.server == server and r.size == label]
            out[label][server] = {
                key: round(statistics.median(getattr(r, key) for r in mine), 3)
                for key in ("rps", "gbps", "p50_ms", "p99_ms", "cpu_us_per_request")
            }
            out[label][server]["errors"] = sum(r.errors for r in mine)
            out[label][server]["rps_min"] = min(r.rps for r in mine)
            out[label][server]["rps_max"] = max(r.rps for r in mine)
    return out


def paired_ratios(runs: list[Run]) -> dict[str, dict[str, float]]:
    """Per edge and size, the median over rounds of edge req/s / nginx req/s in the same round
    (the servers of a round run back to back, so the machine's drift cancels out)."""
    out: dict[str, dict[str, float]] = {}
    for edge in EDGES:
        out[edge] = {}
        for label in SIZES:
            mine = [r.rps for r in runs if r.server == edge and r.size == label]
            ref = [r.rps for r in runs if r.server == "nginx" and r.size == label]
            ratios = [m / n for m, n in zip(mine, ref, strict=True)]
            out[edge][label] = round(statistics.median(ratios), 3)
    return out


def table(result: dict[str, dict[str, dict[str, float]]]) -> str:
    head = (
        "| segment | server | req/s | rounds (min-max) | GB/s | p50 ms | p99 ms | CPU us/req "
        "| x nginx |"
    )
    lines = [head, "|---" * (head.count("|") - 1) + "|"]
    for label, servers in result.items():
        for server, m in servers.items():
            ratio = m["rps"] / servers["nginx"]["rps"]
            shown = f"{ratio:.2f}" if server != "nginx" else ""
            lines.append(
                f"| {label} | {server} | {m['rps']:.0f} | {m['rps_min']:.0f}-{m['rps_max']:.0f} "
                f"| {m['gbps']:.2f} | {m['p50_ms']:.2f} "
                f"| {m['p99_ms']:.2f} | {m['cpu_us_per_request']:.0f} | {shown} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds per case, unmeasured")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--pin", action="store_true", help="servers on CPU 1, wrk on CPU 0 (equal CPU)"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    name = "edge_vs_nginx_pinned.json" if args.pin else "edge_vs_nginx.json"
    out: Path = args.out or OUT / name
    require_tools("wrk", "nginx", "taskset")

    load_before = os.getloadavg()
    with running_stack(pin=args.pin) as (stack, keys):
        lists = path_lists(stack, keys)
        check_same_bytes(stack, lists)
        for label in SIZES:
            for server in SERVERS:
                wrk(stack, server, label, lists, seconds=args.warmup, connections=args.connections)
        runs = [
            wrk(stack, server, label, lists, seconds=args.duration, connections=args.connections)
            for _ in range(args.rounds)
            for label in SIZES
            for server in SERVERS
        ]
        final = {e: json.loads(get(stack.base(e) + "/edge/report")[1]) for e in EDGES}
    load_after = os.getloadavg()

    result = medians(runs)
    paired = paired_ratios(runs)
    ratios = {
        edge: {label: round(s[edge]["rps"] / s["nginx"]["rps"], 3) for label, s in result.items()}
        for edge in EDGES
    }
    record = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "files_per_size": FILES,
        "connections": args.connections,
        "rounds": args.rounds,
        "seconds_per_run": args.duration,
        "pinned": args.pin,
        "workers": {
            "edge": "granian embedded, 1 worker, hits by pathsend",
            "edge-ram": "the same, with a 128 MB RAM tier (hot objects as a body)",
            "edge-nginx": "nginx (worker_processes 1, sendfile, grant files) in front of the "
            "Python edge (granian, 1 worker), which grants tokens and counts nginx's hits",
            "nginx": "worker_processes 1, sendfile",
        },
        "versions": versions(),
        "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "median": result,
        "ratios_edge_over_nginx": ratios,
        "paired_ratios_median": paired,
        "target_met": {e: all(r >= 0.9 for r in rs.values()) for e, rs in paired.items()},
        "edge_misses": {e: report["misses"] for e, report in final.items()},
        "edge_hits_counted": {e: report["hits"] for e, report in final.items()},
        "edge_ram_tier": final["edge-ram"].get("memory"),
        "runs": [asdict(r) for r in runs],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2))
    where = "pinned: servers on CPU 1, wrk on CPU 0" if args.pin else "1 worker each, unpinned"
    print(f"\nedge hits vs nginx, wrk -t1 -c{args.connections} ({where}), median of {args.rounds}")
    print(f"interleaved rounds of {args.duration:g} s, {FILES} files per size\n")
    print(table(result))
    print(f"\nrequests/s against nginx (ratio of medians): {ratios}")
    print(f"median of the per-round ratios: {paired} (target >= 0.9)")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
