"""``matinee up --topology fleet`` and ``matinee status`` as an operator uses them."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from matinee.fleet.up import probe

from .harness import Fleet, alive, wait_for


def status_rows(output: str) -> dict[str, str]:
    """``matinee status``'s table: the health column by instance id."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│") if c.strip()]
        if len(cells) == 7 and cells[0] != "service":
            rows[cells[1]] = cells[6]
    return rows


def test_up_status_replacement_and_ctrl_c(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path)
    fleet.start()
    try:
        fleet.wait_ready()
        # `matinee up` prints its table once it has seen every instance ready, too
        wait_for("matinee up reporting the fleet", lambda: "fleet is up" in fleet.output(), 15)
        records = fleet.records()
        assert sorted(r.service for r in records) == [
            "gateway",
            "gateway",
            "media",
            "media",
            "registry",
            "registry",
        ]
        rows = status_rows(fleet.run("status"))
        assert rows == {r.instance_id: "ready" for r in records}

        victim = fleet.record("media", 1)
        os.kill(victim.pid, signal.SIGKILL)

        def replaced() -> bool:
            now = fleet.record("media", 1)
            return now.instance_id != victim.instance_id and probe(now).health == "ready"

        took = wait_for("the killed instance being replaced", replaced, 15)
        assert took <= 10.0, f"the replacement took {took:.1f} s to be ready"
        new = fleet.record("media", 1)
        assert (new.port, new.restarts) == (victim.port, 1)
        rows = status_rows(fleet.run("status"))
        assert rows[new.instance_id] == "ready"
        assert victim.instance_id not in rows
        assert set(rows.values()) == {"ready"}

        pids = [r.pid for r in fleet.records()]
        assert fleet.interrupt() == 0, fleet.output()
        assert "fleet stopped" in fleet.output()
        left = [pid for pid in [*pids, victim.pid] if alive(pid)]
        assert left == [], f"instances still running after Ctrl-C: {left}"
        assert not fleet.state_path.exists()
        assert "nothing is running" in fleet.run("status")
    finally:
        fleet.kill_all()
