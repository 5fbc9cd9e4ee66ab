"""The catalog service: titles (movies, series, episodes), genres, cast, availability windows,
links to packaged media assets, and full-text search on the database's own engine."""

from __future__ import annotations

from fastapi import APIRouter

from matinee.runtime.app import ServiceSpec
from matinee.runtime.context import ServiceContext
from matinee.services.catalog import api
from matinee.services.catalog.errors import STATUS
from matinee.services.catalog.service import CatalogConfig, CatalogService


def build(ctx: ServiceContext) -> list[APIRouter]:
    service = CatalogService(ctx.database(), ctx.clock, CatalogConfig(), metrics=ctx.metrics)
    return api.routers(ctx, service)


SPEC = ServiceSpec(
    "catalog",
    build=build,
    errors=STATUS,
    depends_on=("media",),
    description="Titles, seasons and episodes, availability windows, artwork and search.",
)

__all__ = ["SPEC", "CatalogConfig", "CatalogService"]
