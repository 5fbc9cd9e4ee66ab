"""The SQLite history store copies its WAL back into the database on a connection of its own:
the writer never checkpoints, yet the WAL is reused rather than growing with every commit."""

from __future__ import annotations

import asyncio
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


Seen = tuple[CheckpointStats, int]  # the store's checkpoint counts and its WAL file's size


def write_all(
    path: Path, *, pause: float = 0.01, before: Callable[[SqliteHistoryStore], None] | None = None
) -> Seen:
    """Append every batch (pausing between them, a moment for the checkpoint thread as load
    allows); what was seen just before the store closed."""
    seen: list[Seen] = []

    async def main() -> None:
        store = SqliteHistoryStore(path)
        async with store:
            if before is not None:
                before(store)
            for n in range(BATCHES):
                await store.append(batch(n))
                await asyncio.sleep(pause)
            stats = replace(store.checkpoints)
            seen.append((stats, path.with_name(path.name + "-wal").stat().st_size))

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
    assert stats.failures == 0
    assert wal < whole_wal / 2


def test_a_wal_over_its_limit_is_reset_and_writes_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history_sqlite, "CHECKPOINT_ROWS", 2 * BATCH)
    monkeypatch.setattr(history_sqlite, "WAL_LIMIT_BYTES", 1)
    stats, _ = write_all(tmp_path / "history.db")
    assert stats.restarts >= 1


def test_a_failing_checkpoint_is_counted_and_loses_no_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history_sqlite, "CHECKPOINT_ROWS", 2 * BATCH)

    def break_it(store: SqliteHistoryStore) -> None:
        checkpointer = store._checkpointer  # pointed at a WAL that is not there
        assert checkpointer is not None
        checkpointer.wal = tmp_path / "missing" / "history.db-wal"

    stats, _ = write_all(tmp_path / "history.db", before=break_it)
    assert stats.failures >= 1
