"""One real local fleet shared by the proof tests of a module (it takes seconds to start)."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator

import pytest

from .harness import Fleet


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """``matinee up --topology fleet --replicas 2`` with failure injection, stopped at the end."""
    running = Fleet(tmp_path_factory.mktemp("fleet"))
    running.start()
    try:
        running.wait_ready()
        yield running
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            running.interrupt()
        running.kill_all()
