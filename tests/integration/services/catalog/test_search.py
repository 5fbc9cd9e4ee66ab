"""Full-text search on every database's own engine (FTS5, tsvector, FULLTEXT): typo-tolerant
prefix matching, ranking, short words and stopwords, visibility, pagination, and an index that
follows every change."""

from __future__ import annotations

import asyncio

import pytest

from matinee.clock import FakeClock
from matinee.db.aio import Database
from matinee.services.catalog.errors import InvalidCursor
from matinee.services.catalog.schemas import CreditIn, TitleUpdate
from matinee.services.catalog.service import CatalogService

from .helpers import NOW, movie, run, series


async def found(service: CatalogService, q: str, **audience: object) -> list[str]:
    country = str(audience.get("country", "US"))
    maturity = audience.get("maturity_max")
    viewer = service.audience(country, maturity if isinstance(maturity, int) else None)
    return [t.name for t in (await service.search(viewer, q, limit=100)).items]


async def shelf(service: CatalogService) -> None:
    await series(
        service,
        "Stranger Things",
        synopsis="In Hawkins, Indiana, a boy vanishes and his friends look for him.",
    )
    await movie(
        service,
        "The Strange Case of Dr Jekyll",
        synopsis="A doctor splits in two. Up in his laboratory, it is what it is.",
        genres=["Horror"],
    )
    await movie(service, "The Crown", synopsis="The reign of Queen Elizabeth II.", genres=["Drama"])
    await movie(
        service,
        "Hawkins Diaries",
        synopsis="Odd things happen in a small town.",
        cast=["Millie Bobby Brown"],
    )
    await movie(service, "Amélie", synopsis="A shy waitress in Montmartre.", year=2001)
    await movie(service, "Schindler's List", synopsis="A German industrialist.", maturity=16)


def test_prefixes_with_typos_find_the_title(db_url: str) -> None:
    async def scenario(service: CatalogService, _: FakeClock) -> None:
        await shelf(service)
        assert (await found(service, "strang thin"))[0] == "Stranger Things"
        assert await found(service, "stranegr things") == ["Stranger Things"]
        assert await found(service, "Stranegr THNIGS!") == ["Stranger Things"]
        assert await found(service, "strnag") == [
            "Stranger Things",
            "The Strange Case of Dr Jekyll",
        ]
        assert await found(service, "crwon") == ["The Crown"]
        assert await found(service, "millie brwon") == ["Hawkins Diaries"]  # the cast
        assert await found(service, "amelie") == ["Amélie"]  # accents are folded
        assert await found(service, "AMÉL") == ["Amélie"]
        assert await found(service, "schindlers") == ["Schindler's List"]
        assert await found(service, "zzzzzzzz") == []
        assert await found(service, "?!") == []

        page = await service.search(service.audience("US"), "stranegr thin")
        assert page.matched == [["stranger"], ["thin"]]

    run(db_url, scenario)


def test_name_matches_rank_above_synopsis_and_cast_matches(db_url: str) -> None:
    async def scenario(service: CatalogService, _: FakeClock) -> None:
        await shelf(service)
        # "hawkins" is the name of one title and in the synopsis of another.
        assert await found(service, "hawkins") == ["Hawkins Diaries", "Stranger Things"]
        # "things" is in Stranger Things' name and in Hawkins Diaries' synopsis.
        assert await found(service, "things") == ["Stranger Things", "Hawkins Diaries"]
        await movie(service, "Brown", synopsis="A colour.")
        assert await found(service, "brown") == ["Brown", "Hawkins Diaries"]

    run(db_url, scenario)


def test_short_words_and_stopwords_are_searchable(db_url: str) -> None:
    async def scenario(service: CatalogService, _: FakeClock) -> None:
        await shelf(service)
        await movie(service, "It", synopsis="A clown.", maturity=16)
        await movie(service, "Up", synopsis="A house flies away with balloons.", maturity=0)
        assert await found(service, "it") == ["It", "The Strange Case of Dr Jekyll"]
        assert await found(service, "up") == ["Up", "The Strange Case of Dr Jekyll"]
        assert await found(service, "the crown") == ["The Crown"]
        assert await found(service, "the") == [
            "The Crown",
            "The Strange Case of Dr Jekyll",
        ]
        assert await found(service, "dr jek") == ["The Strange Case of Dr Jekyll"]
        assert await found(service, "queen elizabeth ii") == ["The Crown"]
        assert await found(service, "with balloons") == ["Up"]

    run(db_url, scenario)


def test_search_shows_only_what_the_viewer_may_watch(db_url: str) -> None:
    async def scenario(service: CatalogService, _: FakeClock) -> None:
        await shelf(service)
        await movie(service, "Stranger Draft", countries=())
        await movie(service, "Stranger Abroad", countries=("GB",))
        assert await found(service, "stranger") == ["Stranger Things"]
        assert await found(service, "stranger", country="GB") == ["Stranger Abroad"]
        assert await found(service, "schindler", maturity_max=13) == []
        assert await found(service, "schindler", maturity_max=16) == ["Schindler's List"]

    run(db_url, scenario)


def test_results_are_paginated_in_rank_order(db_url: str) -> None:
    async def scenario(service: CatalogService, _: FakeClock) -> None:
        for i in range(9):
            await movie(service, f"Space {i}", synopsis="stars")
        for i in range(4):
            await movie(service, f"Ocean {i}", synopsis="space and stars")
        viewer = service.audience("US")
        everything = [t.id for t in (await service.search(viewer, "spac", limit=100)).items]
        assert len(everything) == 13
        seen: list[str] = []
        cursor = None
        while True:
            page = await service.search(viewer, "spac", limit=5, cursor=cursor)
            seen += [t.id for t in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == everything
        names = [t.name for t in (await service.search(viewer, "spac", limit=100)).items]
        assert names[:9] == [f"Space {i}" for i in range(9)]  # name matches first, by name
        first = await service.search(viewer, "spac", limit=5)
        with pytest.raises(InvalidCursor):
            await service.search(viewer, "ocean", cursor=first.next_cursor)

    run(db_url, scenario)


def test_the_index_follows_every_change(db_url: str) -> None:
    async def scenario(service: CatalogService, _: FakeClock) -> None:
        await shelf(service)
        crown = (await service.search(service.audience("US"), "crown")).items[0]
        await service.update_title(crown.id, TitleUpdate(name="The Throne"))
        # "crown" left the vocabulary: it is now read as a typo of "brown" (the cast).
        assert await found(service, "crown") == ["Hawkins Diaries"]
        assert await found(service, "thrnoe") == ["The Throne"]
        assert await found(service, "elizabeth") == ["The Throne"]  # the synopsis stayed
        await service.update_title(
            crown.id, TitleUpdate(cast=[CreditIn(name="Olivia Colman", character="The Queen")])
        )
        assert await found(service, "olivia colmna") == ["The Throne"]
        await service.update_title(crown.id, TitleUpdate(genres=["Royal Drama"]))
        assert await found(service, "royal") == ["The Throne"]
        await service.set_published(crown.id, False)
        assert await found(service, "throne") == []

    run(db_url, scenario)


def test_every_instance_sees_new_words_of_another(db_url: str) -> None:
    """Two catalog instances on one database: typo correction on the second knows the words
    the first just wrote (the vocabulary generation moved)."""

    async def main() -> None:
        first_db, second_db = Database(db_url), Database(db_url)
        clock = FakeClock(NOW.timestamp())
        first, second = CatalogService(first_db, clock), CatalogService(second_db, clock)
        try:
            await movie(first, "Zyzzyva")
            assert await found(second, "zyzzyca") == ["Zyzzyva"]
            await movie(first, "Quokka Quest")
            assert await found(second, "quokak") == ["Quokka Quest"]
        finally:
            await first_db.close()
            await second_db.close()

    asyncio.run(main())


def test_any_text_is_a_safe_query(db_url: str) -> None:
    """Operators of every engine's query language are plain text to the catalog."""

    async def scenario(service: CatalogService, _: FakeClock) -> None:
        await movie(service, "Москва слезам не верит", synopsis="Три подруги.")
        await movie(service, "千と千尋の神隠し", synopsis="Spirited Away")
        odd = [
            'NEAR("a" b) OR name:x AND -y*',  # FTS5
            "a:* & !b | (c <-> d)",  # tsquery
            '+a -b ~c >d <e "f g" @3',  # MySQL boolean mode
            "%_\\' ; DROP TABLE catalog_titles; --",
            "x" * 200,
            " ".join(["word"] * 40),
        ]
        for q in odd:
            assert await found(service, q) == []
        assert await found(service, "москва") == ["Москва слезам не верит"]
        assert await found(service, "моксва") == ["Москва слезам не верит"]  # a typo too
        assert await found(service, "spirited") == ["千と千尋の神隠し"]

    run(db_url, scenario)
