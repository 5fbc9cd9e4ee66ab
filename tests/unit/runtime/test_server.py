"""What an instance does to its process once it has started."""

from __future__ import annotations

import gc

from matinee.runtime.server import GC_THRESHOLDS, settle_heap


def test_settle_heap_freezes_what_startup_built_and_makes_young_collections_rarer() -> None:
    before = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == GC_THRESHOLDS
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
