"""The homepage service's tunables, one small frozen object (never read from the environment
here; tests pass their own)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HomepageConfig:
    """* ``page_ttl_s``: how long a profile's built page is served from the cache; a page built
      with a fallback is kept only ``degraded_ttl_s``;
    * ``row_size``: titles per row;
    * ``precompute_period_s``: how often the per-country rows (popular, genres, new) are
      recomputed into the cache, for ``countries`` and every country a member asked from;
    * ``popular_days``: the window of plays that makes a title popular;
    * ``because_rows``: how many "because you watched" rows (one per recent title);
    * ``because_ttl_s``: how long one title's similar titles are kept (per country and rating);
    * ``max_titles``: the most titles of one country the precomputed rows look at;
    * ``default_country``: for a member whose country nobody knows.
    """

    page_ttl_s: float = 30.0
    degraded_ttl_s: float = 5.0
    row_size: int = 20
    precompute_period_s: float = 60.0
    countries: tuple[str, ...] = ("US",)
    popular_days: int = 7
    because_rows: int = 1
    because_ttl_s: float = 300.0
    max_titles: int = 1000
    default_country: str = "US"

    def __post_init__(self) -> None:
        for name in ("page_ttl_s", "degraded_ttl_s", "precompute_period_s", "because_ttl_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be a positive number of seconds")
        if self.row_size < 1 or self.max_titles < 1 or self.popular_days < 1:
            raise ValueError("row_size, max_titles and popular_days must be at least 1")
        if self.because_rows < 0:
            raise ValueError("because_rows cannot be negative")
