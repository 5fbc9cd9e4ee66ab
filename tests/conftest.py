"""Fixtures shared by every test layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from matinee.platform import Platform
from matinee.settings import Settings
from matinee.testing.pipeline import MakePlatform


@pytest.fixture
def make_platform(tmp_path: Path) -> MakePlatform:
    """A Platform on embedded defaults in a fresh data directory, tuned for fast tests
    (ultrafast x264, short chunks and segments). Keyword arguments override Settings fields."""

    def make(**overrides: Any) -> Platform:
        fields: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "x264_preset": "ultrafast",
            "workers": 2,
            "chunk_seconds": 4.0,
            "segment_seconds": 2.0,
            "vmaf_subsample": 4,
            **overrides,
        }
        return Platform(Settings(**fields))

    return make
