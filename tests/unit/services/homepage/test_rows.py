"""Row building and the recommender's ranking, as pure functions."""

from __future__ import annotations

from matinee.services.homepage import rows
from matinee.services.homepage.lookups import Plays, TitleInfo
from matinee.services.homepage.recommend import rank, similarity

from .fakes import card

MOVIES = [
    card("a", "A", 0, ("Drama",)),
    card("b", "B", 16, ("Drama", "Thriller")),
    card("c", "C", 7, ("Comedy",)),
    card("d", "D", 13, ("Thriller",)),
]


def test_pick_keeps_order_and_drops_what_the_profile_may_not_see() -> None:
    chosen = rows.pick([*MOVIES, MOVIES[0]], 13, 10, frozenset({"c"}))
    assert [c.id for c in chosen] == ["a", "d"]
    assert [c.id for c in rows.pick(MOVIES, 18, 2)] == ["a", "b"]
    assert rows.new_row([MOVIES[1]], 7, 5) is None  # an empty row is not shown


def test_episode_plays_count_for_their_series() -> None:
    ranking = [Plays("s-e1", 4), Plays("a", 2), Plays("s-e2", 3), Plays("gone", 50)]
    plays = rows.plays_by_title(ranking, {"s-e1": "s", "s-e2": "s", "gone": None}, {"a", "s"})
    assert plays == {"s": 7, "a": 2}


def test_a_snapshot_ranks_popular_and_genres_by_plays_then_catalog_order() -> None:
    snapshot = rows.snapshot_of("US", 10.0, MOVIES, {"d": 5, "b": 1})
    assert snapshot.new == ["a", "b", "c", "d"]
    assert snapshot.popular == ["d", "b", "a", "c"]
    assert [(g.slug, g.ids) for g in snapshot.genres] == [
        ("comedy", ["c"]),
        ("drama", ["b", "a"]),
        ("thriller", ["d", "b"]),
    ]
    genre_rows = rows.genre_rows(snapshot, 13, 10)
    assert [(r.id, [c.id for c in r.items]) for r in genre_rows] == [
        ("genre:thriller", ["d"]),  # 5 plays
        ("genre:comedy", ["c"]),
        ("genre:drama", ["a"]),
    ]
    unranked = rows.snapshot_of("US", 10.0, MOVIES, None)
    assert (unranked.popularity, unranked.popular) == ("catalog", unranked.new)


def test_likeness_counts_genres_once_and_cast_twice() -> None:
    seed = TitleInfo(card("x", "X", 0, ("Drama", "Thriller")), cast=("Ada", "Bo"))
    assert similarity(seed, MOVIES[1]) == 2
    assert similarity(seed, MOVIES[2], frozenset({"Ada", "Cy"})) == 2
    assert similarity(seed, MOVIES[2]) == 0
    ranked = rank(seed, [*MOVIES, seed.card], {"c": frozenset({"Ada"})}, {"a": 1})
    assert [c.id for c in ranked] == ["a", "b", "c", "d"]  # a played; then b 2, c 2, d 1
