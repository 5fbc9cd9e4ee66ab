"""The per-country rows precomputed into the cache with no TTL, by a loop on the injected clock."""

from __future__ import annotations

import asyncio

from matinee.gateway.auth import Identity
from matinee.services.homepage.config import HomepageConfig
from matinee.services.homepage.lookups import Plays
from matinee.services.homepage.schemas import Snapshot

from .conftest import ALEX, Home, make_home
from .fakes import Entry, card

DAY = 86_400.0


async def stored(home: Home, country: str = "US") -> Snapshot | None:
    raw = await home.cache.get(f"rows:{country}")
    return None if raw is None else Snapshot.model_validate_json(raw)


async def until(condition: object, home: Home, runs: float) -> None:
    """Let the loop run until ``precompute{result=ok|error}`` reaches ``runs``."""
    for _ in range(10_000):
        if home.count("homepage.precompute", result=str(condition)) >= runs:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"the loop did not run {runs} times")


def test_a_refresh_is_kept_with_no_ttl(home: Home) -> None:
    async def main() -> None:
        assert await home.service.precomputer.refresh("US")
        home.clock.advance(30 * DAY)
        snapshot = await stored(home)
        assert snapshot is not None
        assert snapshot.country == "US"
        assert snapshot.new == ["midnight", "signal", "mandelbrot", "life"]
        assert snapshot.popular == ["midnight", "signal", "mandelbrot", "life"]
        assert snapshot.plays == {"midnight": 9, "signal": 7, "mandelbrot": 5}
        assert snapshot.popularity == "history"
        assert [g.slug for g in snapshot.genres] == [
            "comedy",
            "documentary",
            "drama",
            "science",
            "thriller",
        ]

    asyncio.run(main())


def test_the_loop_recomputes_every_period_and_keeps_the_last_good_copy() -> None:
    home = make_home(HomepageConfig(precompute_period_s=60.0))
    start = home.clock.time()

    async def main() -> None:
        async with home.service.precomputer.running()():
            assert await stored(home) is None  # the first run waits one period
            await until("ok", home, 2)
            first = await stored(home)
            assert first is not None
            assert (first.computed_at - start) % 60.0 == 0
            assert first.computed_at > start

            home.catalog.entries = {
                "fresh": Entry(card("fresh", "Fresh", 0, ("Drama",))),
                **home.catalog.entries,
            }
            home.history.plays = {"US": [Plays("fresh", 40)]}
            runs = home.count("homepage.precompute", result="ok")
            await until("ok", home, runs + 2)
            fresh = await stored(home)
            assert fresh is not None
            assert fresh.new[0] == "fresh"
            assert fresh.popular[0] == "fresh"

            home.catalog.down = True
            await until("error", home, 3)
            kept = await stored(home)
            assert kept is not None
            assert kept.new[0] == "fresh"
            assert home.clock.time() - kept.computed_at >= 3 * 60.0  # older, still served
        assert home.count("homepage.fallback", source="catalog", reason="kept_old") >= 3

    asyncio.run(main())


def test_countries_members_ask_from_are_refreshed_too(home: Home) -> None:
    home.profiles.levels["paris"] = 18

    async def main() -> None:
        assert home.service.precomputer.countries == {"US"}
        await home.page(Identity("acct-2", profile="paris", country="FR"))
        assert home.service.precomputer.countries == {"US", "FR"}
        assert await home.service.precomputer.run_once() == 2
        assert (await stored(home, "FR")) is not None
        await home.page(ALEX)

    asyncio.run(main())


def test_a_request_computes_a_missing_country_once(home: Home) -> None:
    async def main() -> None:
        assert await stored(home) is None
        await asyncio.gather(home.page(ALEX), home.page(ALEX))
        snapshot = await stored(home)
        assert snapshot is not None
        assert home.count("cache.loads", cache="homepage", result="joined") >= 1

    asyncio.run(main())


def test_rows_stored_in_an_older_form_are_recomputed(home: Home) -> None:
    async def main() -> None:
        await home.cache.set("rows:US", b'{"country": "US"}', ttl=None)
        await home.cache.set("because:US:18:life", b"[]", ttl=None)
        home.history.recent["alex"] = ["life"]
        page = await home.page(ALEX)
        assert {r.id for r in page.rows} >= {"new", "popular", "because:life"}
        snapshot = await stored(home)
        assert snapshot is not None
        assert snapshot.new[0] == "midnight"

    asyncio.run(main())
