"""The relational layer: SQLAlchemy 2 with Alembic migrations in one chain."""

from matinee.db.base import Base, make_engine, session_factory
from matinee.db.migrate import Migration, MigrationFailed, current_revision, head_revision, upgrade

__all__ = [
    "Base",
    "Migration",
    "MigrationFailed",
    "current_revision",
    "head_revision",
    "make_engine",
    "session_factory",
    "upgrade",
]
