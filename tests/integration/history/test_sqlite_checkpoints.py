"""The SQLite history store copies its WAL back into the database on a connection of its own:
the writer never checkpoints, yet the WAL is reused rather than growing with every commit."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from matinee.history import ViewingEvent
from matinee.history import sqlite as history_sqlite
from matinee.history.sqlite import CheckpointStats, SqliteHistoryStore

BATCHES = 40
BATCH = 500


def batch(n: int) -> list[ViewingEvent]:
    return [
        ViewingEvent(
            f"profile-{i % 200:03d}",
            f"ev-{n}-{i}",
            1_700_000_000.0 + n * BATCH + i,
            f"title-{i % 7}",
            "heartbeat",
            float(i),
            3000.0,
            "tv",
            "1080p",
            5_000_000,
            20.0,
            0,
            False,
        )
        for i in range(BATCH)
    ]


Seen = tuple[CheckpointStats, list[int]]  # checkpoint counts; the WAL's size after each write


def write_all(path: Path, *, pause: float = 0.01) -> Seen:
    """Append every batch (pausing between them, a moment for the checkpoint thread as load
    allows); what was seen just before the store closed."""
    seen: list[Seen] = []

    async def main() -> None:
        store = SqliteHistoryStore(path)
        async with store:
            sizes = []
            for n in range(BATCHES):
                await store.append(batch(n))
                await asyncio.sleep(pause)
                sizes.append(path.with_name(path.name + "-wal").stat().st_size)
            seen.append((replace(store.checkpoints), sizes))

    asyncio.run(main())
    assert count(path) == BATCHES * BATCH
    return seen[0]


def count(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        rows: int = conn.execute("SELECT count(*) FROM live_events").fetchone()[0]
        return rows


def test_checkpoints_run_beside_the_writer_and_the_wal_is_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The control: without checkpoints while writing, the WAL keeps every page (what the
    # writer's wal_autocheckpoint=0 would mean on its own).
    monkeypatch.setattr(history_sqlite, "CHECKPOINT_ROWS", 10**9)
    unchecked, whole_wal = write_all(tmp_path / "control.db", pause=0)
    assert unchecked.checkpoints == 0

    monkeypatch.setattr(history_sqlite, "CHECKPOINT_ROWS", 2 * BATCH)
    stats, wal = write_all(tmp_path / "history.db")
    assert stats.checkpoints >= 5
    assert (stats.failures, stats.truncates) == (0, 0)
    assert wal[-1] < whole_wal[-1] / 2


def test_a_wal_over_its_limit_is_emptied_and_writes_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history_sqlite, "CHECKPOINT_ROWS", 2 * BATCH)
    monkeypatch.setattr(history_sqlite, "WAL_LIMIT_BYTES", 1)
    stats, sizes = write_all(tmp_path / "history.db")
    assert stats.truncates >= 1
    # the file shrank (a WAL that is only reused keeps its size on disk)
    assert any(later < earlier for earlier, later in itertools.pairwise(sizes))


def test_a_failing_checkpoint_is_counted_and_loses_no_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history_sqlite, "CHECKPOINT_ROWS", 2 * BATCH)

    def failing(pragma: str) -> Callable[[sqlite3.Connection], tuple[int, ...]]:
        def run(conn: sqlite3.Connection) -> tuple[int, ...]:
            raise sqlite3.OperationalError(f"disk I/O error (running {pragma})")

        return run

    monkeypatch.setattr(history_sqlite, "_pragma_row", failing)
    stats, _ = write_all(tmp_path / "history.db")
    assert stats.failures >= 1
    assert stats.checkpoints == 0
