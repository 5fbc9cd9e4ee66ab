"""Benchmark: a small JSON endpoint called directly, through nginx, and through the gateway.

Everything runs as real processes on loopback, in one run: a registry, ONE media instance, an
nginx reverse proxy (one worker, keep-alive upstream) and ONE gateway instance. The endpoint is
the media service's ``GET /api/media/about`` (about 60 bytes of JSON, no storage), so the
service itself is as cheap as a FastAPI endpoint gets and the proxies' cost shows.

1. Maximum throughput: ``wrk -t1 -c64`` (closed loop) against each path, in interleaved rounds
   (direct, nginx, gateway, direct, ...); the median round counts.
2. Latency under load: the three paths get the same offered load, half (the target) and a
   quarter of the gateway's median maximum, as Poisson arrivals paced inside wrk by
   ``gateway_proxy.lua`` (wrk2 is not packaged here). Latency counts from the moment each
   request is sent (no coordinated-omission correction); the achieved rate is recorded, so a
   path that fell behind its schedule would show.

``--pin`` puts wrk and the media instance on CPU 0 and the proxies on CPU 1, as if each proxy
had a host of its own; by default all share both CPUs.

Targets (issue 3): the gateway reaches >= 0.6x the direct request rate, and adds <= 3 ms to
p99 at half of its maximum throughput. Results go to ``bench/out/gateway_proxy.json``
(``gateway_proxy_pinned.json`` with ``--pin``).

    .venv/bin/python bench/gateway_proxy.py [--rounds 5] [--duration 8] [--pin]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent))
from _common import free_port, get, versions, wait_ok

OUT = Path(__file__).parent / "out"
ENDPOINT = "/api/media/about"
PATHS = ("direct", "nginx", "gateway")
LOAD_FRACTIONS = (0.5, 0.25)  # of the gateway's median maximum; the target is set at 0.5
CONNECTIONS = 64

# The gateway's config for this run (MATINEE_RUNTIME_CONFIG). Two defaults would measure
# something else than the proxy: the per-client rate limit (100/s; every request here comes
# from one address) is raised out of reach but stays in the chain, and the bulkhead of the
# media dependency (10 calls in flight, Hystrix's thread-pool default) is raised to 256, above
# wrk's 64 connections, as Zuul's own default (100 semaphores) would be. Everything else
# (timeouts, breaker, retries, load shedding, auth filter) is the default.
RUNTIME_TOML = """\
[dependencies.media]
max_concurrent = 256

[gateway.rate_limit]
rate = 1000000.0
burst = 1000000.0
"""

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    keepalive_requests 1000000;
    upstream media {{
        server 127.0.0.1:{upstream};
        keepalive 128;
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=2048;
        location / {{
            proxy_pass http://media;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
        }}
    }}
}}
"""


@dataclass
class Run:
    """One wrk run against one path."""

    path: str
    mode: str  # "max" or "paced"
    offered: float | None
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    cpu_us_per_request: dict[str, float] = field(default_factory=dict)


class Stack:
    """The processes under test; stopped (gracefully, then killed) when the run ends."""

    def __init__(self, tmp: Path, *, pin: bool = False) -> None:
        self.tmp = tmp
        # --pin: the client and the service share CPU 0, the proxies get CPU 1 to themselves.
        self.cpus = {"media": "0", "wrk": "0", "gateway": "1", "nginx": "1"} if pin else {}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports = {name: free_port() for name in ("registry", "media", "gateway", "nginx")}
        (tmp / "runtime.toml").write_text(RUNTIME_TOML)
        self.env = {
            **os.environ,
            "MATINEE_DATA_DIR": str(tmp / "data"),
            "MATINEE_RUNTIME_CONFIG": str(tmp / "runtime.toml"),
        }

    def url(self, path: str) -> str:
        port = self.ports["media" if path == "direct" else path]
        return f"http://127.0.0.1:{port}{ENDPOINT}"

    def pinned(self, name: str, argv: list[str]) -> list[str]:
        cpu = self.cpus.get(name)
        return argv if cpu is None else ["taskset", "-c", cpu, *argv]

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        argv = self.pinned(name, argv)
        with (self.tmp / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        self.procs[name] = proc
        return proc

    def instance(self, service: str) -> subprocess.Popen[bytes]:
        registry = f"http://127.0.0.1:{self.ports['registry']}/eureka"
        argv = [sys.executable, "-m", "matinee.runtime.instance", "--service", service]
        argv += ["--port", str(self.ports[service]), "--instance-id", f"{service}-0"]
        argv += ["--registry-url", registry, "--log-level", "WARNING"]
        return self._spawn(service, argv)

    def start(self) -> None:
        base = "http://127.0.0.1:{}"
        proc = self.instance("registry")
        wait_ok(base.format(self.ports["registry"]) + "/healthz", "the registry", proc)
        proc = self.instance("media")
        wait_ok(base.format(self.ports["media"]) + "/readyz", "the media instance", proc)
        proc = self.instance("gateway")
        wait_ok(self.url("gateway"), "the gateway (finding media)", proc)
        self.tmp.chmod(0o755)  # nginx's workers may run as another user
        conf = self.tmp / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(tmp=self.tmp, port=self.ports["nginx"], upstream=self.ports["media"])
        )
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        proc = self._spawn("nginx", [nginx, "-p", str(self.tmp), "-c", str(conf)])
        wait_ok(self.url("nginx"), "nginx", proc)

    def stop(self) -> None:
        for name, proc in reversed(self.procs.items()):
            if proc.poll() is None:
                proc.send_signal(signal.SIGQUIT if name == "nginx" else signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system, every thread and child) of each process so far."""
        out: dict[str, float] = {}
        for name in ("media", "gateway", "nginx"):
            total = 0.0
            try:
                top = psutil.Process(self.procs[name].pid)
                for p in [top, *top.children(recursive=True)]:
                    t = p.cpu_times()
                    total += t.user + t.system
            except psutil.Error:
                pass
            out[name] = total
        return out


@contextmanager
def running_stack(*, pin: bool) -> Iterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="matinee-bench-gw-") as tmp:
        stack = Stack(Path(tmp), pin=pin)
        try:
            stack.start()
            yield stack
        except BaseException:
            for name in stack.procs:
                log = (stack.tmp / f"{name}.log").read_text(errors="replace")
                print(f"--- {name} log (tail) ---\n{log[-2000:]}", file=sys.stderr)
            raise
        finally:
            stack.stop()


def wrk(
    stack: Stack, path: str, seconds: float, *, rate: float | None = None, seed: int = 1
) -> Run:
    script = Path(__file__).with_suffix(".lua")
    argv = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--timeout", "10s"]
    argv += ["-s", str(script), stack.url(path)]
    argv = stack.pinned("wrk", argv)
    if rate is not None:
        argv += ["--", f"{rate:.3f}", str(seed)]
    before = stack.cpu_seconds()
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    after = stack.cpu_seconds()
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    r = json.loads(line.removeprefix("BENCH "))
    requests = max(int(r["requests"]), 1)
    errors = sum(int(r[k]) for k in ("connect", "read", "write", "status", "timeout"))
    busy = {"direct": ("media",), "nginx": ("media", "nginx"), "gateway": ("media", "gateway")}
    return Run(
        path=path,
        mode="max" if rate is None else "paced",
        offered=rate,
        rps=round(requests / (int(r["duration_us"]) / 1e6), 1),
        p50_ms=r["p50_us"] / 1000,
        p90_ms=r["p90_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        max_ms=r["max_us"] / 1000,
        errors=errors,
        cpu_us_per_request={
            name: round((after[name] - before[name]) * 1e6 / requests, 1) for name in busy[path]
        },
    )


def medians(runs: list[Run]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for path in PATHS:
        mine = [r for r in runs if r.path == path]
        out[path] = {
            key: round(statistics.median(getattr(r, key) for r in mine), 2)
            for key in ("rps", "p50_ms", "p99_ms")
        }
        out[path]["errors"] = sum(r.errors for r in mine)
        for proc in mine[0].cpu_us_per_request:
            cpu = statistics.median(r.cpu_us_per_request[proc] for r in mine)
            out[path][f"cpu_us_{proc}"] = round(cpu, 1)
    return out


@dataclass
class Phase:
    """The paced runs at one fraction of the gateway's maximum throughput."""

    fraction: float
    rate: float
    runs: list[Run]

    def as_json(self) -> dict[str, object]:
        return {
            "fraction": self.fraction,
            "rate": round(self.rate, 1),
            "median": medians(self.runs),
            "runs": [asdict(r) for r in self.runs],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds per path, unmeasured")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="wrk and the service on CPU 0, the gateway and nginx on CPU 1 (as on their own host)",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    name = "gateway_proxy_pinned.json" if args.pin else "gateway_proxy.json"
    out: Path = args.out or OUT / name
    for tool in ("wrk", "nginx", "taskset"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} is not installed: run scripts/test-deps.sh")

    load_before = os.getloadavg()
    with running_stack(pin=args.pin) as stack:
        bodies = {p: get(stack.url(p))[1] for p in PATHS}
        if len({json.loads(b)["instance"] for b in bodies.values()}) != 1:
            raise SystemExit(f"the three paths answer differently: {bodies}")
        for path in PATHS:
            wrk(stack, path, args.warmup)
        peak = [wrk(stack, p, args.duration) for _ in range(args.rounds) for p in PATHS]
        peak_median = medians(peak)
        phases: list[Phase] = []
        for fraction in LOAD_FRACTIONS:
            rate = peak_median["gateway"]["rps"] * fraction
            runs = [
                wrk(stack, p, args.duration, rate=rate, seed=n)
                for n in range(args.rounds)
                for p in PATHS
            ]
            phases.append(Phase(fraction, rate, runs))
    load_after = os.getloadavg()

    half = medians(phases[0].runs)
    rate_ratio = round(peak_median["gateway"]["rps"] / peak_median["direct"]["rps"], 3)
    added_p99 = round(half["gateway"]["p99_ms"] - half["direct"]["p99_ms"], 2)
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "endpoint": ENDPOINT,
        "connections": CONNECTIONS,
        "rounds": args.rounds,
        "seconds_per_run": args.duration,
        "pinned": args.pin,
        "gateway_config": RUNTIME_TOML,
        "versions": versions(),
        "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "max": {"median": peak_median, "runs": [asdict(r) for r in peak]},
        "paced": [phase.as_json() for phase in phases],
        "ratios": {
            p: round(peak_median[p]["rps"] / peak_median["direct"]["rps"], 3) for p in PATHS
        },
        "targets": {
            "gateway_rate_ratio": rate_ratio,
            "gateway_rate_ratio_met": rate_ratio >= 0.6,
            "gateway_added_p99_ms_at_half_load": added_p99,
            "gateway_added_p99_met": added_p99 <= 3.0,
        },
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    where = "pinned: wrk + media on CPU 0, proxies on CPU 1" if args.pin else "unpinned"
    print(f"\n{ENDPOINT}, wrk -t1 -c{CONNECTIONS} ({where}), median of {args.rounds}")
    print(f"interleaved rounds of {args.duration:g} s each\n")
    print(table(peak_median, phases))
    print(f"\ngateway / direct request rate: {rate_ratio:.3f} (target >= 0.6)")
    print(f"p99 the gateway adds at half load: {added_p99:.2f} ms (target <= 3)")
    print(f"\nwritten to {out}")


def table(peak: dict[str, dict[str, float]], phases: list[Phase]) -> str:
    """A Markdown table: maximum throughput, then p50/p99 at each paced load."""
    direct = peak["direct"]["rps"]
    head = "| path | max req/s | x direct | p50 ms | p99 ms | CPU us/req |"
    for phase in phases:
        head += f" {phase.rate:.0f}/s: p50 | p99 |"
    lines = [head, "|---" * (head.count("|") - 1) + "|"]
    paced = [medians(phase.runs) for phase in phases]
    for path in PATHS:
        m = peak[path]
        cpu = " + ".join(f"{m[k]:.0f} {k[7:]}" for k in m if k.startswith("cpu_us_"))
        line = f"| {path} | {m['rps']:.0f} | {m['rps'] / direct:.2f} | {m['p50_ms']:.2f}"
        line += f" | {m['p99_ms']:.2f} | {cpu} |"
        for med in paced:
            line += f" {med[path]['p50_ms']:.2f} | {med[path]['p99_ms']:.2f} |"
        lines.append(line)
    errors = sum(peak[p]["errors"] for p in PATHS) + sum(
        m[p]["errors"] for m in paced for p in PATHS
    )
    if errors:
        lines.append(f"\n{errors:.0f} requests failed or answered non-2xx (see the JSON)")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
