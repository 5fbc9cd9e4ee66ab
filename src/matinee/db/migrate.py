"""Run Alembic migrations programmatically (``matinee db upgrade`` and ``matinee up``).

:func:`upgrade` brings a database to the head of the one chain and says from which revision to
which. A database that cannot be reached raises :class:`DatabaseUnavailable` in plain words
instead of the driver's exception.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from matinee.db.aio import DatabaseUnavailable
from matinee.db.base import make_engine
from matinee.db.urls import dialect_of, safe
from matinee.errors import MatineeError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


class MigrationFailed(MatineeError):
    """A migration's statement failed on this database (the database was reachable)."""


@dataclass(frozen=True)
class Migration:
    """What :func:`upgrade` did: the revision before and after (``None`` is an empty database)."""

    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    """The newest revision of the chain."""
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at (``None``: never migrated)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except (OperationalError, InterfaceError) as exc:
        raise DatabaseUnavailable(
            f"could not reach the database at {safe(url)}: {_first_line(exc)}"
        ) from exc
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> Migration:
    """Bring the database at ``url`` to ``revision`` (creating the SQLite file's directory)."""
    if dialect_of(url) == "sqlite" and url.startswith("sqlite:///"):
        directory = Path(url.removeprefix("sqlite:///")).parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailable(
                f"could not make the directory of the SQLite database {directory}: "
                f"{exc.strerror or exc}"
            ) from exc
    before = current_revision(url)
    with _failing_as(url, f"migrating to {revision}"):
        command.upgrade(alembic_config(url), revision)
    after = current_revision(url)
    if before != after:
        log.info("migrated %s from %s to %s", safe(url), before or "empty", after)
    return Migration(before, after)


def downgrade(url: str, revision: str = "base") -> Migration:
    """Take the database at ``url`` back to ``revision`` (``base``: no tables at all)."""
    before = current_revision(url)
    with _failing_as(url, f"downgrading to {revision}"):
        command.downgrade(alembic_config(url), revision)
    return Migration(before, current_revision(url))


@contextmanager
def _failing_as(url: str, what: str) -> Iterator[None]:
    try:
        yield
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise DatabaseUnavailable(
                f"lost the database at {safe(url)} while {what}: {_first_line(exc)}"
            ) from exc
        raise MigrationFailed(f"{what} failed on {safe(url)}: {_first_line(exc)}") from exc


def _first_line(exc: DBAPIError) -> str:
    """The driver's own words, without its error tuple (PyMySQL says ``(2003, "Can't ...")``)."""
    args: tuple[object, ...] = tuple(getattr(exc.orig, "args", ()))
    text = args[1] if len(args) == 2 and isinstance(args[0], int) else str(exc.orig)
    lines = str(text).strip().splitlines()
    return lines[0] if lines else type(exc.orig).__name__
