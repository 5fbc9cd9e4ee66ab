"""The viewing-history service (the Cassandra role): heartbeats in, continue-watching,
history and bookmarks out, on the store of ``matinee.history`` chosen by
``MATINEE_HISTORY_URL`` (SQLite by default, Cassandra to scale out).

Its lifespan opens the store (creating its schema), runs the group-commit writer and the
roll-up loop (``rollup_period_s``, ``rollup_age_s`` from the URL's options), and on the way out
stops the roll-up, writes what is queued and closes the store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter

from matinee.history import open_history_store
from matinee.runtime.app import ServiceSpec
from matinee.runtime.context import ServiceContext
from matinee.services.history import api
from matinee.services.history.episodes import CATALOG, CatalogEpisodes
from matinee.services.history.errors import STATUS
from matinee.services.history.rollup import RollupLoop
from matinee.services.history.service import HistoryService
from matinee.services.history.writer import GroupCommitWriter

# Group commits in progress at once. On Cassandra they run concurrently. SQLite has one writer
# thread, so a second one waits in its queue: it is gathered and ready while the first commits,
# and the database does not sit idle while the event loop acknowledges one batch and gathers
# the next.
FLUSHERS = {"sqlite": 2, "cassandra": 2}


def build(ctx: ServiceContext) -> list[APIRouter]:
    store = open_history_store(ctx.settings.resolved_history_url)
    opts = store.options
    writer = GroupCommitWriter(
        store,
        clock=ctx.clock,
        metrics=ctx.metrics,
        flushers=FLUSHERS[store.backend],
    )
    episodes = CatalogEpisodes(ctx.clients.get(CATALOG), ctx.clock, ctx.metrics)
    service = HistoryService(store, writer, episodes, ctx.clock, ctx.metrics)
    rollup = RollupLoop(
        store, ctx.clock, ctx.metrics, period_s=opts.rollup_period_s, age_s=opts.rollup_age_s
    )

    @asynccontextmanager
    async def running() -> AsyncIterator[None]:
        await store.open()
        try:
            async with writer.running(), rollup.running():
                yield
        finally:
            await store.close()

    ctx.add_lifespan(running)
    return api.router(ctx, service)


SPEC = ServiceSpec(
    "history",
    build=build,
    errors=STATUS,
    depends_on=(CATALOG,),
    description="Viewing history: heartbeats, continue-watching, history pages and bookmarks.",
)

__all__ = ["SPEC", "HistoryService"]
