"""Titles on every database: visibility, filters, keyset pagination, series and episodes,
availability for other services, and the admin's changes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from matinee.clock import FakeClock
from matinee.services.catalog.assets import AssetInfo
from matinee.services.catalog.errors import (
    DuplicateEpisode,
    InvalidCursor,
    InvalidTitle,
    TitleNotFound,
)
from matinee.services.catalog.schemas import (
    CreditIn,
    EpisodeCreate,
    TitleCreate,
    TitleSummary,
    TitleUpdate,
    WindowIn,
)
from matinee.services.catalog.service import CatalogService
from matinee.services.catalog.store import Sort

from .helpers import NOW, movie, run, series

DAY = timedelta(days=1)


def names(items: Sequence[TitleSummary]) -> list[str]:
    return [i.name for i in items]


def test_a_title_shows_only_once_published_and_inside_a_window(db_url: str) -> None:
    async def scenario(service: CatalogService, clock: FakeClock) -> None:
        draft = await movie(service, "Draft", countries=())
        us = service.audience("US")
        assert (await service.titles(us)).items == []
        with pytest.raises(TitleNotFound):
            await service.title(us, draft.id)

        tomorrow = WindowIn(country="US", starts_at=NOW + DAY, ends_at=NOW + 3 * DAY)
        await service.set_availability(draft.id, [tomorrow])
        await service.set_published(draft.id, True)
        assert (await service.titles(service.audience("US"))).items == []
        clock.advance(DAY.total_seconds())
        assert names((await service.titles(service.audience("US"))).items) == ["Draft"]
        assert (await service.title(service.audience("US"), draft.id)).name == "Draft"
        assert (await service.titles(service.audience("GB"))).items == []
        clock.advance(2 * DAY.total_seconds())  # the window has ended
        assert (await service.titles(service.audience("US"))).items == []

        clock.advance(-0.0)
        await service.set_published(draft.id, False)
        assert (await service.titles(service.audience(None))).items == []

    run(db_url, scenario)


def test_listings_filter_by_genre_kind_year_country_and_maturity(db_url: str) -> None:
    async def scenario(service: CatalogService, _: FakeClock) -> None:
        await movie(service, "Alien", year=1979, genres=["Sci-Fi", "Horror"], maturity=16)
        await movie(service, "Paddington", year=2014, genres=["Family"], maturity=0)
        await movie(service, "Local Hero", year=1983, genres=["Comedy"], countries=("GB",))
        await series(service, "Dark", year=2017, seasons=[1])
        us = service.audience("US")
        assert names((await service.titles(us)).items) == ["Dark", "Paddington", "Alien"]
        assert names((await service.titles(us, genre="sci-fi")).items) == ["Alien"]
        assert names((await service.titles(us, kind="series")).items) == ["Dark"]
        assert names((await service.titles(us, year=2014)).items) == ["Paddington"]
        kids = service.audience("US", maturity_max=7)
        assert names((await service.titles(kids)).items) == ["Paddington"]
        gb = service.audience("GB")
        assert names((await service.titles(gb)).items) == ["Local Hero"]
        default = service.audience(None)  # the configured default country: US
        assert len((await service.titles(default)).items) == 3
        alien = (await service.titles(us, genre="horror")).items[0]
        assert [g.slug for g in alien.genres] == ["horror", "sci-fi"]
        genres = await service.genres(None, 2)
        assert [g.slug for g in genres.items] == ["comedy", "family"]
        assert genres.next_cursor is not None
        rest = await service.genres(genres.next_cursor, 10)
        assert ([g.slug for g in rest.items], rest.next_cursor) == (["horror", "sci-fi"], None)

    run(db_url, scenario)


@pytest.mark.parametrize("sort", ["newest", "name"])
def test_keyset_pages_visit_every_title_once_in_order(db_url: str, sort: Sort) -> None:
    async def scenario(service: CatalogService, _: FakeClock) -> None:
        for i in range(17):
            # Few distinct years and repeated names: ties are broken by name, then by id.
            await movie(service, f"Title {i % 5}", year=2000 + i % 3)
        await movie(service, "Hidden", countries=())
        us = service.audience("US")
        everything = (await service.titles(us, sort=sort, limit=100)).items
        assert len(everything) == 17
        if sort == "name":
            expected = sorted(everything, key=lambda t: (t.name.casefold(), t.id))
        else:
            expected = sorted(everything, key=lambda t: (-t.release_year, t.name.casefold(), t.id))
        assert [t.id for t in everything] == [t.id for t in expected]

        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            page = await service.titles(us, sort=sort, cursor=cursor, limit=4)
            seen += [t.id for t in page.items]
            pages += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == [t.id for t in expected]
        assert pages == 5
        other: Sort = "name" if sort == "newest" else "newest"
        first = await service.titles(us, sort=sort, limit=4)
        assert first.next_cursor is not None
        with pytest.raises(InvalidCursor):
            await service.titles(us, sort=other, cursor=first.next_cursor)

    run(db_url, scenario)


def test_a_series_page_lists_the_episodes_a_viewer_may_watch(db_url: str) -> None:
    async def scenario(service: CatalogService, _: FakeClock) -> None:
        show = await series(service, "Dark", seasons=[3, 2])
        assert show.seasons is not None
        assert [(s.season, len(s.episodes)) for s in show.seasons] == [(1, 3), (2, 2)]
        s2e2 = show.seasons[1].episodes[1].id
        later = WindowIn(country="US", starts_at=NOW + DAY)
        await service.set_availability(s2e2, [later])  # next week's episode
        s1e2 = show.seasons[0].episodes[1].id
        await service.set_published(s1e2, False)  # held back
        await service.update_title(show.seasons[0].episodes[2].id, TitleUpdate(maturity=18))

        page = await service.title(service.audience("US"), show.id)
        assert page.seasons is not None
        assert [[e.name for e in s.episodes] for s in page.seasons] == [
            ["S1E1", "S1E3"],
            ["S2E1"],
        ]
        teen = await service.title(service.audience("US", maturity_max=16), show.id)
        assert teen.seasons is not None
        assert [[e.name for e in s.episodes] for s in teen.seasons] == [["S1E1"], ["S2E1"]]
        episode = await service.title(service.audience("US"), show.seasons[1].episodes[0].id)
        assert (episode.kind, episode.series_id, episode.season, episode.episode) == (
            "episode",
            show.id,
            2,
            1,
        )
        with pytest.raises(TitleNotFound):
            await service.title(service.audience("US"), s1e2)
        with pytest.raises(TitleNotFound):
            await service.title(service.audience("GB"), show.id)
        # Episodes are never listed on their own.
        assert names((await service.titles(service.audience("US"))).items) == ["Dark"]

    run(db_url, scenario)


def test_next_episode_crosses_seasons_and_skips_held_back_ones(db_url: str) -> None:
    async def scenario(service: CatalogService, _: FakeClock) -> None:
        show = await series(service, "Dark", seasons=[2, 0, 2])
        assert show.seasons is not None
        ids = [e.id for s in show.seasons for e in s.episodes]
        s1e1, s1e2, s3e1, s3e2 = ids
        await service.add_episode(show.id, EpisodeCreate(season=2, episode=1, name="Draft"))
        draft = (await service.admin_title(show.id)).seasons[1].episodes[0].id  # type: ignore[index]
        await service.set_published(draft, False)

        following = [(await service.internal_title(i)).next_episode_id for i in ids]
        assert following == [s1e2, s3e1, s3e2, None]
        first = await service.internal_title(s1e1)
        assert (first.kind, first.series_id, first.season, first.episode) == (
            "episode",
            show.id,
            1,
            1,
        )
        assert first.published
        assert [w.country for w in first.availability] == ["US"]  # the series' windows
        movie_ = await movie(service, "Alone")
        assert (await service.internal_title(movie_.id)).next_episode_id is None
        assert (await service.internal_title(show.id)).next_episode_id is None
        with pytest.raises(TitleNotFound):
            await service.internal_title("no-such-title")

    run(db_url, scenario)


def test_availability_answers_say_why_not(db_url: str) -> None:
    async def scenario(service: CatalogService, _: FakeClock) -> None:
        film = await movie(service, "Alien", countries=())
        assert (await service.availability(film.id, "US", NOW)).reason == "unpublished"
        windows = [WindowIn(country="US", starts_at=NOW, ends_at=NOW + DAY)]
        await service.set_availability(film.id, windows)
        await service.set_published(film.id, True)
        answers = [
            await service.availability(film.id, country, at)
            for country, at in [("US", NOW), ("US", NOW + DAY), ("US", NOW - DAY), ("GB", NOW)]
        ]
        assert [(a.available, a.reason) for a in answers] == [
            (True, None),
            (False, "window"),
            (False, "window"),
            (False, "region"),
        ]
        internal = await service.internal_title(film.id)
        assert internal.published
        assert internal.availability[0].ends_at == NOW + DAY
        await service.set_availability(film.id, [])
        assert (await service.availability(film.id, "US", NOW)).reason == "region"

        show = await series(service, "Dark", seasons=[1])
        assert show.seasons is not None
        episode = show.seasons[0].episodes[0].id
        assert (await service.availability(episode, "US", NOW)).available
        await service.set_published(show.id, False)
        assert (await service.availability(episode, "US", NOW)).reason == "unpublished"
        assert not (await service.internal_title(episode)).published

    run(db_url, scenario)


def test_episodes_belong_to_a_series_once_per_number(db_url: str) -> None:
    async def scenario(service: CatalogService, _: FakeClock) -> None:
        film = await movie(service, "Alien")
        with pytest.raises(InvalidTitle, match="movie"):
            await service.add_episode(film.id, EpisodeCreate(season=1, episode=1, name="x"))
        with pytest.raises(InvalidTitle, match="season"):
            await service.update_title(film.id, TitleUpdate(season=2))
        show = await series(service, "Dark", seasons=[2])
        with pytest.raises(DuplicateEpisode):
            await service.add_episode(show.id, EpisodeCreate(season=1, episode=2, name="again"))
        assert show.seasons is not None
        with pytest.raises(DuplicateEpisode):
            await service.update_title(show.seasons[0].episodes[0].id, TitleUpdate(episode=2))
        moved = await service.update_title(show.seasons[0].episodes[0].id, TitleUpdate(season=4))
        assert (moved.season, moved.episode, moved.maturity) == (4, 1, 16)
        with pytest.raises(TitleNotFound):
            await service.add_episode("nope", EpisodeCreate(season=1, episode=1, name="x"))

    run(db_url, scenario)


def test_updates_replace_genres_and_cast_and_links_take_the_assets_facts(db_url: str) -> None:
    async def scenario(service: CatalogService, _: FakeClock) -> None:
        created = await service.create_title(
            TitleCreate(
                kind="movie",
                name="Alien",
                genres=["Sci-Fi", "sci fi", "Horror"],  # one slug, one genre
                cast=[CreditIn(name="Sigourney Weaver", character="Ripley")],
                maturity=16,
                release_year=1979,
            )
        )
        assert [g.slug for g in created.genres] == ["horror", "sci-fi"]
        assert [(c.name, c.role, c.character) for c in created.cast] == [
            ("Sigourney Weaver", "actor", "Ripley")
        ]
        changed = await service.update_title(
            created.id,
            TitleUpdate(
                name="Alien (Director's Cut)",
                genres=["Thriller"],
                cast=[
                    CreditIn(name="Ridley Scott", role="director"),
                    CreditIn(name="Sigourney Weaver", character="Ellen Ripley"),
                ],
                runtime_s=6960,
            ),
        )
        assert changed.name == "Alien (Director's Cut)"
        assert changed.synopsis == ""
        assert [g.slug for g in changed.genres] == ["thriller"]
        assert [c.name for c in changed.cast] == ["Ridley Scott", "Sigourney Weaver"]
        assert changed.runtime_s == 6960

        asset = AssetInfo(
            "asset-1", "assets/j1/poster.jpg", "assets/j1/trickplay/thumbs.vtt", 5.6, 720
        )
        linked = await service.link_asset(created.id, asset)
        assert linked.asset_id == "asset-1"
        assert linked.artwork.poster == "/media/assets/j1/poster.jpg"
        assert linked.artwork.trickplay == "/media/assets/j1/trickplay/thumbs.vtt"
        assert (linked.max_height, linked.playable, linked.runtime_s) == (720, True, 6960)
        cleared = await service.update_title(created.id, TitleUpdate(runtime_s=None))
        assert cleared.runtime_s == 6  # the asset's duration, rounded
        listed = await service.admin_titles(kind=None, sort="name", cursor=None, limit=10)
        assert [t.id for t in listed.items] == [created.id]
        assert not listed.items[0].published

    run(db_url, scenario)
