"""Delivery: cache indexes with pluggable eviction, popularity prediction for proactive fill,
and the trace replayer of the cache study (``bench/cdn_cache_study.py``)."""

from __future__ import annotations

from collections.abc import Hashable

from matinee.cdn.errors import CacheFull, CdnError, NotCached
from matinee.cdn.eviction import LRU, CacheIndex, EvictionPolicy
from matinee.cdn.popularity import (
    DemandShape,
    FillPlan,
    FillPlanner,
    PopularityModel,
    Rendition,
    TitleMedia,
)
from matinee.cdn.s3fifo import S3FIFO
from matinee.cdn.sieve import SIEVE

__all__ = [
    "LRU",
    "POLICIES",
    "S3FIFO",
    "SIEVE",
    "CacheFull",
    "CacheIndex",
    "CdnError",
    "DemandShape",
    "EvictionPolicy",
    "FillPlan",
    "FillPlanner",
    "NotCached",
    "PopularityModel",
    "Rendition",
    "TitleMedia",
    "make_policy",
]

POLICIES: dict[str, type[CacheIndex[Hashable]]] = {"lru": LRU, "sieve": SIEVE, "s3fifo": S3FIFO}


def make_policy(name: str, capacity: int) -> CacheIndex[Hashable]:
    """An empty cache index of ``capacity`` bytes with the named policy: lru, sieve, s3fifo."""
    try:
        cls = POLICIES[name]
    except KeyError:
        known = ", ".join(sorted(POLICIES))
        raise ValueError(f"unknown eviction policy {name!r}; use one of {known}") from None
    return cls(capacity)
