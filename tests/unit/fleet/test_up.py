"""`matinee status` reads what `matinee up` wrote, and probes each instance right now."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from matinee.fleet.up import status, write_monolith_state
from matinee.settings import Settings


def test_status_of_a_monolith_that_is_not_answering(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    settings = Settings.model_validate({"data_dir": tmp_path, "port": port})
    path = write_monolith_state(settings)
    assert path == settings.fleet_state_path
    assert not list(path.parent.glob("*.tmp"))
    [found] = status(settings)
    assert (found.record.service, found.record.port, found.record.pid) == (
        "monolith",
        port,
        os.getpid(),
    )
    assert found.health.startswith("down: ")


def test_status_when_nothing_was_started(tmp_path: Path) -> None:
    assert status(Settings.model_validate({"data_dir": tmp_path})) == []
