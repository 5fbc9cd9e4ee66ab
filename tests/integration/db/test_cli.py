"""``matinee db upgrade`` on every database, and the one migration ``matinee up`` runs."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from matinee.cli import app
from matinee.db import current_revision, head_revision
from matinee.fleet.up import prepare
from matinee.settings import Settings
from matinee.testing.servers import pick_port


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_db_upgrade_says_from_which_revision_to_which(empty_db_url: str, tmp_path: Path) -> None:
    env = {"MATINEE_DATABASE_URL": empty_db_url, "MATINEE_DATA_DIR": str(tmp_path)}
    head = head_revision()

    first = CliRunner().invoke(app, ["db", "upgrade"], env=env)
    assert first.exit_code == 0, first.output
    assert f"migrated from (empty) to {head}" in _flat(first.output)
    assert ":matinee-test@" not in first.output  # the password is never printed
    assert current_revision(empty_db_url) == head

    again = CliRunner().invoke(app, ["db", "upgrade"], env=env)
    assert again.exit_code == 0, again.output
    assert f"is up to date at {head}" in _flat(again.output)


def test_db_upgrade_on_an_unreachable_database_fails_in_plain_words(tmp_path: Path) -> None:
    port = pick_port(15480, 15499)
    url = f"postgresql://matinee:secret@127.0.0.1:{port}/matinee"
    env = {"MATINEE_DATABASE_URL": url, "MATINEE_DATA_DIR": str(tmp_path)}

    result = CliRunner().invoke(app, ["db", "upgrade"], env=env)

    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    text = _flat(result.output)
    assert (
        f"error: could not reach the database at postgresql://matinee:***@127.0.0.1:{port}" in text
    )
    assert "secret" not in text
    assert "Traceback" not in text


def test_up_migrates_once_before_instances_start(empty_db_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=empty_db_url, data_dir=tmp_path)

    migration = prepare(settings)

    assert (migration.before, migration.after) == (None, head_revision())
    assert current_revision(empty_db_url) == head_revision()
    assert (tmp_path / "identity.key").exists()
