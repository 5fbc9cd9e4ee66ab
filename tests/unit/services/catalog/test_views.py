"""The availability rule every reader of the catalog shares, and the artwork URLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from matinee.services.catalog import views
from matinee.services.catalog.models import Availability, Title

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def title(kind: str = "movie", published: bool = True, *windows: Availability) -> Title:
    return Title(id=kind, kind=kind, published=published, availability=list(windows))


def window(country: str, start: datetime, end: datetime | None = None) -> Availability:
    return Availability(country=country, starts_at=start, ends_at=end)


def test_a_title_is_available_inside_an_open_window_of_the_country() -> None:
    movie = title("movie", True, window("US", NOW - DAY, NOW + DAY), window("GB", NOW + DAY))
    rules = views.effective(movie)
    assert rules.reason("US", NOW) is None
    assert rules.reason("US", NOW - DAY) is None  # the start is inside
    assert rules.reason("US", NOW + DAY) == "window"  # the end is not
    assert rules.reason("GB", NOW) == "window"
    assert rules.reason("GB", NOW + DAY) is None  # no end: open for good
    assert rules.reason("FR", NOW) == "region"


def test_unpublished_wins_over_every_window() -> None:
    movie = title("movie", False, window("US", NOW - DAY))
    assert views.effective(movie).reason("US", NOW) == "unpublished"


def test_an_episode_follows_its_series_unless_it_has_windows_of_its_own() -> None:
    series = title("series", True, window("US", NOW - DAY))
    plain = title("episode", True)
    assert views.effective(plain, series).reason("US", NOW) is None
    assert views.effective(plain, series).reason("GB", NOW) == "region"

    later = title("episode", True, window("US", NOW + DAY))
    assert views.effective(later, series).reason("US", NOW) == "window"
    assert views.effective(later, series).reason("US", NOW + DAY) is None

    held_back = title("episode", False)
    assert views.effective(held_back, series).reason("US", NOW) == "unpublished"
    series.published = False
    assert views.effective(plain, series).reason("US", NOW) == "unpublished"


def test_artwork_points_at_the_media_service() -> None:
    movie = Title(poster_key="assets/j1/poster.jpg", trickplay_key=None)
    art = views.artwork(movie)
    assert art.poster == "/media/assets/j1/poster.jpg"
    assert art.trickplay is None


def test_runtime_falls_back_to_the_asset_duration() -> None:
    assert views.runtime(Title(kind="movie", runtime_s=None, asset_duration_s=5.6)) == 6
    assert views.runtime(Title(kind="movie", runtime_s=90, asset_duration_s=5.6)) == 90
    assert views.runtime(Title(kind="series", runtime_s=None, asset_duration_s=5.6)) is None
    assert views.runtime(Title(kind="movie", runtime_s=None, asset_duration_s=None)) is None
