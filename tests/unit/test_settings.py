"""Settings are read from MATINEE_* variables; backends are chosen by URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from matinee.jobs.errors import JobError
from matinee.platform import Platform
from matinee.settings import Settings


def test_data_dir_and_derived_urls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MATINEE_DATA_DIR", str(tmp_path))
    s = Settings()
    assert s.data_dir == tmp_path
    assert s.resolved_database_url == f"sqlite:///{tmp_path / 'matinee.db'}"
    assert s.resolved_storage_url == (tmp_path / "objects").as_uri()


def test_explicit_urls_win(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MATINEE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MATINEE_STORAGE_URL", "s3://bucket/media")
    monkeypatch.setenv("MATINEE_DATABASE_URL", "sqlite:////elsewhere/db.sqlite")
    s = Settings()
    assert s.resolved_storage_url == "s3://bucket/media"
    assert s.resolved_database_url == "sqlite:////elsewhere/db.sqlite"


def test_default_data_dir_is_under_the_users_data_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MATINEE_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", "/srv/data")
    assert Settings().data_dir == Path("/srv/data/matinee")


def test_unknown_queue_url_is_refused_in_plain_words(tmp_path: Path) -> None:
    platform = Platform(Settings(data_dir=tmp_path, queue_url="celery://broker"))
    with pytest.raises(JobError, match="unsupported queue URL 'celery://broker'"):
        platform.queue()
