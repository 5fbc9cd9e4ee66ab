"""What the wrk benchmarks share: free ports, waiting for a process to answer, tools on PATH,
running wrk with a script that prints one ``BENCH {...}`` JSON line, CPU time per process, and
the versions of what was measured."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil

from matinee.cdn.nginx import nginx_binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - our own loopback URL
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_ok(url: str, what: str, proc: subprocess.Popen[bytes], within: float = 60.0) -> bytes:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode} while starting")
        try:
            status, body = get(url)
            if status == 200:
                return body
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not answer 200 at {url} within {within:g} s")


def require_tools(*tools: str) -> None:
    """Exit with a plain message when a tool the benchmark runs is missing."""
    for tool in tools:
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} is not installed: run scripts/test-deps.sh")


def stop_processes(procs: Mapping[str, subprocess.Popen[bytes]], timeout: float = 20.0) -> None:
    """Stop every process gracefully (nginx: SIGQUIT), in reverse start order; kill stragglers."""
    for name, proc in reversed(list(procs.items())):
        if proc.poll() is None:
            proc.send_signal(signal.SIGQUIT if name.startswith("nginx") else signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, every thread and child) of a process so far."""
    total = 0.0
    try:
        top = psutil.Process(pid)
        for p in [top, *top.children(recursive=True)]:
            t = p.cpu_times()
            total += t.user + t.system
    except psutil.Error:
        pass
    return total


def run_wrk(argv: list[str]) -> dict[str, Any]:
    """Run wrk (its script prints ``BENCH {json}`` in ``done``); that JSON."""
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH "))
    return result


def wrk_errors(result: Mapping[str, Any]) -> int:
    return sum(int(result.get(k, 0)) for k in ("connect", "read", "write", "status", "timeout"))


def versions() -> dict[str, str]:
    import granian  # noqa: PLC0415 - only for the record

    def first_line(argv: list[str]) -> str:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return (done.stdout + done.stderr).strip().splitlines()[0]

    return {
        "python": sys.version.split()[0],
        "granian": granian.__version__,
        "nginx": first_line([nginx_binary(), "-v"]),
        "wrk": first_line(["wrk", "-v"]),
        "cpus": str(os.cpu_count()),
        "cpu_model": cpu_model(),
    }


def cpu_model() -> str:
    """The CPU as /proc/cpuinfo names it: model name, family/model and clock (hosts differ from
    session to session, and runs on different hosts are not comparable)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    name = fields.get("model name", "unknown")
    family, model, mhz = (fields.get(k) for k in ("cpu family", "model", "cpu MHz"))
    return f"{name} (family {family} model {model}, {mhz} MHz)"
