"""Fixtures shared by the integration tests: a real S3 API (a moto standalone server).

The server is started once per session as a subprocess on a free port of 127.0.0.1 and
stopped afterwards (terminate, then kill, then wait); tests create their own buckets.
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

MOTO_START_SECONDS = 30.0
STOP_GRACE_SECONDS = 5.0


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + MOTO_START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = log_path.read_text(errors="replace")
            raise RuntimeError(f"moto server exited with {proc.returncode}:\n{log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            time.sleep(0.1)
        else:
            return
    raise RuntimeError(f"moto server did not listen on port {port} within {MOTO_START_SECONDS} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate, then kill, then wait."""
    proc.terminate()
    try:
        proc.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The endpoint URL of a moto S3 server running for this session."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(proc, port, log_path)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)


def create_bucket(endpoint: str) -> str:
    """Create a fresh bucket on the moto server and return its name (moto skips auth)."""
    bucket = f"matinee-{uuid.uuid4().hex[:12]}"
    conn = http.client.HTTPConnection(endpoint.removeprefix("http://"), timeout=10)
    try:
        conn.request("PUT", f"/{bucket}")
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"could not create bucket {bucket}: {response.status} {body!r}")
    return bucket
