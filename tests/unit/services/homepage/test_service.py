"""The homepage service over fakes: rows, maturity and country, the page cache and its TTLs,
and a counted fallback for every source that cannot answer."""

from __future__ import annotations

import asyncio
import logging

import pytest

from matinee.gateway.auth import Identity
from matinee.services.homepage.errors import ProfileNotFound
from matinee.services.homepage.lookups import Plays, Resume
from matinee.services.homepage.schemas import HomePage, Row

from .conftest import ALEX, JAMIE, KIDS, Home, make_home
from .fakes import Entry, card


def ids(row: Row) -> list[str]:
    return [c.id for c in row.items]


def by_id(page: HomePage) -> dict[str, Row]:
    return {r.id: r for r in page.rows}


def watching(home: Home, profile: str = "alex") -> None:
    home.history.continuing[profile] = [
        Resume("life", "resume", 0.3, 180.0),
        Resume("signal-e2", "next_episode", 0.0, 0.0),
        Resume("midnight", "resume", 0.5, 300.0),
    ]
    home.history.recent[profile] = ["life", "signal-e1", "midnight"]


def test_rows_come_in_order_ranked_by_plays(home: Home) -> None:
    watching(home)

    async def main() -> None:
        page = await home.page(ALEX)
        assert (page.profile_id, page.country, page.maturity_level) == ("alex", "US", 18)
        assert page.degraded == []
        assert [r.id for r in page.rows] == [
            "continue-watching",
            "because:life",
            "new",
            "popular",
            "genre:documentary",  # 5 + 7 plays
            "genre:thriller",  # 9
            "genre:comedy",  # 7
            "genre:science",  # 5
            "genre:drama",  # 0
        ]
        rows = by_id(page)
        resume = rows["continue-watching"]
        assert ids(resume) == ["life", "signal-e2", "midnight"]
        first, episode, _ = resume.items
        assert (first.progress, first.position_s, first.name) == (0.3, 180.0, "Game of Life")
        assert (episode.kind, episode.series_id, episode.series_name) == (
            "episode",
            "signal",
            "Signal Tests",
        )
        # Like Game of Life: Midnight Zoom shares Ada Conway, Mandelbrot shares science; the
        # most played first. Watched titles (and Le Jeu, which is French only) never show.
        assert rows["because:life"].title == "Because you watched Game of Life"
        assert ids(rows["because:life"]) == ["mandelbrot"]  # midnight was watched
        assert ids(rows["new"]) == ["midnight", "signal", "mandelbrot", "life"]
        assert ids(rows["popular"]) == ["midnight", "signal", "mandelbrot", "life"]
        assert rows["popular"].title == "Popular in US"
        assert ids(rows["genre:science"]) == ["mandelbrot", "life"]
        assert rows["genre:science"].title == "Science"
        assert str(rows["new"].items[0].artwork.poster) == "/media/assets/midnight/poster.jpg"

    asyncio.run(main())


def test_because_you_watched_ranks_by_plays_then_likeness(home: Home) -> None:
    home.history.recent["alex"] = ["life"]
    home.history.recent["jamie"] = ["life"]
    home.history.recent["kids"] = ["signal-e1"]  # an episode: its series is the title

    async def main() -> None:
        rows = by_id(await home.page(ALEX))
        assert ids(rows["because:life"]) == ["midnight", "mandelbrot"]  # 9 plays, then 5
        rows = by_id(await home.page(JAMIE))
        assert ids(rows["because:life"]) == ["mandelbrot"]  # Midnight Zoom is rated 16
        rows = by_id(await home.page(KIDS))
        assert rows["because:signal"].title == "Because you watched Signal Tests"
        assert ids(rows["because:signal"]) == ["mandelbrot"]  # shares documentary

    asyncio.run(main())


def test_equal_plays_rank_the_most_alike_first() -> None:
    home = make_home()
    home.history.plays = {"US": [Plays("midnight", 3), Plays("mandelbrot", 3)]}
    home.history.recent["alex"] = ["life"]

    async def main() -> None:
        rows = by_id(await home.page(ALEX))
        assert ids(rows["because:life"]) == ["midnight", "mandelbrot"]  # cast (2) > genre (1)

    asyncio.run(main())


def test_maturity_and_country_decide_what_shows(home: Home) -> None:
    watching(home, "kids")

    async def main() -> None:
        page = await home.page(KIDS)
        shown = {c.id for r in page.rows for c in r.items}
        assert "midnight" not in shown
        assert {"life", "mandelbrot", "signal", "signal-e2"} <= shown
        assert "le-jeu" not in shown
        home.profiles.levels["paris"] = 18
        french = await home.page(Identity("acct-2", profile="paris", country="FR"))
        assert {c.id for r in french.rows for c in r.items} == {"le-jeu"}
        assert french.country == "FR"

    asyncio.run(main())


def test_a_member_without_a_country_is_asked_for(home: Home) -> None:
    home.profiles.levels["p"] = 18
    home.profiles.countries["acct-9"] = "FR"

    async def main() -> None:
        page = await home.page(Identity("acct-9", profile="p"))
        assert page.country == "FR"

    asyncio.run(main())


def test_the_second_read_is_a_hit_until_the_ttl_runs_out(home: Home) -> None:
    async def main() -> None:
        first = await home.service.page(ALEX)
        calls = home.catalog.calls
        assert await home.service.page(ALEX) == first
        assert home.catalog.calls == calls  # nothing asked
        assert home.count("homepage.page", result="hit") == 1
        assert home.count("homepage.page", result="miss") == 1
        assert home.count("cache.lookups", cache="homepage", result="hit") >= 1

        home.catalog.entries["fresh"] = Entry(card("fresh", "Fresh", 0, ("Drama",)))
        home.catalog.entries = {"fresh": home.catalog.entries.pop("fresh"), **home.catalog.entries}
        home.clock.advance(home.service.config.page_ttl_s - 1)
        assert await home.service.page(ALEX) == first
        home.clock.advance(2)
        page = HomePage.model_validate_json(await home.service.page(ALEX))
        assert ids(by_id(page)["new"])[0] == "fresh"
        assert home.count("homepage.page", result="miss") == 2

    asyncio.run(main())


def test_a_changed_maturity_level_is_felt_at_once(home: Home) -> None:
    async def main() -> None:
        assert "midnight" in ids(by_id(await home.page(ALEX))["new"])
        home.profiles.levels["alex"] = 13
        page = await home.page(ALEX)
        assert page.maturity_level == 13
        assert "midnight" not in ids(by_id(page)["new"])

    asyncio.run(main())


def test_catalog_down_serves_the_last_good_copy(
    home: Home, caplog: pytest.LogCaptureFixture
) -> None:
    watching(home, "jamie")
    home.history.recent["jamie"] = ["mandelbrot"]

    async def main() -> None:
        before = await home.page(ALEX)  # the US rows are computed and kept
        home.catalog.down = True
        with caplog.at_level(logging.WARNING, logger="matinee.services.homepage"):
            page = await home.page(JAMIE)
            home.clock.advance(home.service.config.degraded_ttl_s + 1)  # degraded: kept briefly
            again = await home.page(JAMIE)
        assert page.degraded == ["catalog"]
        assert again.degraded == ["catalog"]
        assert home.count("homepage.page", result="miss") == 3
        rows = by_id(page)
        assert ids(rows["new"]) == ["signal", "mandelbrot", "life"]  # the copy's, rated <= 13
        assert ids(rows["popular"]) == ids(by_id(before)["popular"])[1:]
        assert "genre:science" in rows
        # Titles the copy knows can be resumed; the episode needs the catalog, so it waits.
        assert ids(rows["continue-watching"]) == ["life"]
        assert not any(r.kind == "because_you_watched" for r in page.rows)
        assert home.count("homepage.fallback", source="catalog", reason="last_good") >= 2
        warnings = [r for r in caplog.records if "catalog" in r.getMessage()]
        assert len(warnings) == 1  # logged once for the outage

        home.catalog.down = False
        home.clock.advance(home.service.config.degraded_ttl_s + 1)
        mended = await home.page(JAMIE)
        assert mended.degraded == []
        assert ids(by_id(mended)["continue-watching"]) == ["life", "signal-e2"]

    asyncio.run(main())


def test_catalog_down_before_any_copy_leaves_an_empty_page(home: Home) -> None:
    watching(home)
    home.catalog.down = True

    async def main() -> None:
        page = await home.page(ALEX)
        assert page.rows == []
        assert page.degraded == ["catalog"]

    asyncio.run(main())


def test_history_down_drops_only_its_rows(home: Home) -> None:
    watching(home)
    home.history.down = True

    async def main() -> None:
        page = await home.page(ALEX)
        assert set(page.degraded) == {"history", "popularity"}
        kinds = {r.kind for r in page.rows}
        assert kinds == {"new", "popular", "genre"}
        assert home.count("homepage.fallback", source="history", reason="no_rows") == 2

    asyncio.run(main())


def test_no_popularity_yet_ranks_popular_in_catalog_order(home: Home) -> None:
    home.history.plays = None  # history has no popularity endpoint (yet)

    async def main() -> None:
        page = await home.page(ALEX)
        assert page.degraded == ["popularity"]
        assert ids(by_id(page)["popular"]) == ids(by_id(page)["new"])
        assert home.count("homepage.fallback", source="popularity", reason="catalog_order") == 1
        home.clock.advance(home.service.config.degraded_ttl_s + 1)
        await home.page(ALEX)
        assert home.count("homepage.page", result="hit") == 1  # a full TTL: rebuilding won't help

    asyncio.run(main())


def test_identity_down_shows_titles_for_every_age(home: Home) -> None:
    home.profiles.down = True

    async def main() -> None:
        page = await home.page(ALEX)
        assert (page.maturity_level, page.degraded) == (0, ["identity"])
        shown = {c.id for r in page.rows for c in r.items}
        assert shown == {"mandelbrot", "signal"}
        home.profiles.down = False
        with pytest.raises(ProfileNotFound):
            await home.page(Identity("acct-1", profile="gone", country="US"))

    asyncio.run(main())
