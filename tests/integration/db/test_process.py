"""ManagedProcess: a server is up once its port accepts, fails in plain words with its own last
lines, and is always gone after stop (even one that ignores SIGTERM)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from matinee.testing.servers import ManagedProcess, ServerFailed, pick_port
from matinee.testing.servers.process import accepts

LISTEN = """
import signal, socket, sys, time
if sys.argv[2] == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
print("listening", flush=True)
while True:
    time.sleep(1)
"""


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("kind", ["polite", "stubborn"])
def test_a_server_starts_when_its_port_accepts_and_stops_for_good(kind: str) -> None:
    port = pick_port(15480, 15499)
    proc = ManagedProcess("listener", [sys.executable, "-c", LISTEN, str(port), kind], port)
    proc.start()
    try:
        assert proc.running
        assert accepts(port)
        pid = proc.pid
        assert pid is not None
    finally:
        proc.stop(timeout=0.5)  # the stubborn one is killed after half a second
    assert _gone(pid)
    assert not accepts(port)


def test_a_server_that_exits_fails_with_its_last_words(tmp_path: Path) -> None:
    port = pick_port(15480, 15499)
    script = "import sys; print('line one'); sys.exit('config file is broken')"
    proc = ManagedProcess(
        "broken", [sys.executable, "-c", script], port, log_path=tmp_path / "broken.log"
    )
    with pytest.raises(ServerFailed) as caught:
        proc.start(timeout=10)
    message = str(caught.value)
    assert "broken exited with status 1 before it listened on 127.0.0.1:" in message
    assert "line one" in message
    assert "config file is broken" in message


def test_a_server_that_never_listens_is_stopped_and_reported() -> None:
    port = pick_port(15480, 15499)
    proc = ManagedProcess(
        "sleeper", [sys.executable, "-c", "import time; print('waiting'); time.sleep(60)"], port
    )
    with pytest.raises(ServerFailed, match=r"sleeper did not listen on .* within 1 s"):
        proc.start(timeout=1)
    assert not proc.running
