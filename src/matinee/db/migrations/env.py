"""Alembic environment: online migrations against the configured URL."""

from __future__ import annotations

from alembic import context

from matinee.db.base import Base, make_engine
from matinee.db.models import load_all

load_all()
config = context.config


def run() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic config has no sqlalchemy.url")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=connection.dialect.name == "sqlite",
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()  # also after a failed migration: no connection outlives the command


run()
