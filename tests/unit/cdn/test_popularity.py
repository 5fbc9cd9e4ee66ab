"""Popularity prediction (decayed plays, newness prior) and fill planning."""

from __future__ import annotations

import pytest

from matinee.cdn import DemandShape, FillPlan, FillPlanner, PopularityModel, Rendition, TitleMedia
from matinee.clock import FakeClock

HOUR = 3600.0
DAY = 24 * HOUR


def test_plays_decay_by_half_each_half_life() -> None:
    clock = FakeClock(start=0.0)
    model = PopularityModel(clock, half_life=DAY)
    for _ in range(4):
        model.record_play("eu", "a")
    clock.advance(DAY)
    assert model.plays("eu") == pytest.approx({"a": 2.0})
    model.record_play("eu", "a")
    assert model.plays("eu")["a"] == pytest.approx(3.0)
    model.record_play("eu", "a", at=0.0)  # a late report of an old play counts decayed
    assert model.plays("eu")["a"] == pytest.approx(3.5)
    clock.advance(2 * DAY)
    assert model.plays("eu")["a"] == pytest.approx(3.5 / 4)
    assert model.plays("us") == {}


def test_weights_and_regions_are_separate() -> None:
    clock = FakeClock(start=0.0)
    model = PopularityModel(clock)
    model.record_play("eu", "a", weight=3.0)
    model.record_play("us", "b")
    assert model.plays("eu") == {"a": 3.0}
    assert model.plays("us") == {"b": 1.0}


def test_newness_prior_gives_new_titles_a_decaying_floor() -> None:
    clock = FakeClock(start=100 * DAY)
    model = PopularityModel(clock, half_life=DAY, newness_half_life=2 * DAY, newness_rank=2)
    for _ in range(10):
        model.record_play("eu", "hit")
    for _ in range(4):
        model.record_play("eu", "second")
    published = {
        "hit": 0.0,
        "second": 0.0,
        "old": 0.0,
        "new": clock.time(),
        "tonight": clock.time() + 6 * HOUR,  # within the lookahead: counted as age 0
        "next-month": clock.time() + 30 * DAY,
    }
    scores = model.scores("eu", published)
    # The prior is the plays of the region's 2nd title (4), halving every 2 days.
    assert scores["new"] == pytest.approx(4.0)
    assert scores["tonight"] == pytest.approx(4.0)
    assert scores["hit"] == pytest.approx(10.0)
    assert scores["old"] == pytest.approx(0.0, abs=1e-9)
    assert "next-month" not in scores
    assert [t for t, _ in model.rank("eu", published, limit=4)] == [
        "hit",
        "new",
        "second",
        "tonight",
    ]
    clock.advance(2 * DAY)
    # Everything decays by 4 in two half-lives; the prior halves once, relative to it.
    scores = model.scores("eu", published)
    assert scores["second"] == pytest.approx(1.0)
    assert scores["new"] == pytest.approx(0.5)


def test_observed_plays_override_the_prior_once_larger() -> None:
    clock = FakeClock(start=0.0)
    model = PopularityModel(clock, newness_rank=1)
    model.record_play("eu", "back-catalog", weight=2.0)
    for _ in range(5):
        model.record_play("eu", "launch")
    scores = model.scores("eu", {"back-catalog": -400 * DAY, "launch": 0.0})
    assert scores["launch"] == pytest.approx(5.0)


def test_model_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="half-lives"):
        PopularityModel(FakeClock(), half_life=0)


def _title(title_id: str, seg_bytes: int = 10, segments: int = 4) -> TitleMedia[str]:
    return TitleMedia(
        title_id,
        tuple(
            Rendition(
                name,
                [f"{title_id}/{name}/{i}" for i in range(segments)],
                [seg_bytes] * segments,
            )
            for name in ("hi", "lo")
        ),
    )


SHAPE = DemandShape({"hi": 0.8, "lo": 0.2}, (1.0, 0.5))


def test_plan_takes_units_by_expected_requests_head_first() -> None:
    planner = FillPlanner([_title("A"), _title("B")], bins=2)
    # Unit values: A/hi/0 8, A/hi/1 4, B/hi/0 4, A/lo/0 2, B/hi/1 2, ... (ties by unit).
    plan = planner.plan({"A": 10.0, "B": 5.0}, budget=70, shape=SHAPE)
    assert list(plan.files) == [
        "A/hi/0",
        "A/hi/1",
        "A/hi/2",
        "A/hi/3",
        "B/hi/0",
        "B/hi/1",
        "A/lo/0",  # the last unit is cut short: its head only
    ]
    assert plan.bytes == 70
    assert plan.units == {("A", "hi", 0), ("A", "hi", 1), ("B", "hi", 0)}
    assert all(size == 10 for size in plan.files.values())


def test_plan_keeps_the_previous_set_when_values_are_close() -> None:
    planner = FillPlanner([_title("A"), _title("B")], bins=2)
    previous: FillPlan[str] = FillPlan({}, frozenset({("B", "hi", 1)}), 0)
    plan = planner.plan({"A": 10.0, "B": 5.0}, 80, SHAPE, previous=previous, stickiness=0.25)
    # B/hi/1 (2 x 1.25) now beats A/lo/0 (2).
    assert ("B", "hi", 1) in plan.units
    assert ("A", "lo", 0) not in plan.units
    plan = planner.plan({"A": 10.0, "B": 5.0}, 80, SHAPE, previous=previous, stickiness=0.0)
    assert ("A", "lo", 0) in plan.units


def test_plan_skips_unscored_titles_and_respects_the_budget() -> None:
    planner = FillPlanner([_title("A"), _title("B"), _title("C")], bins=2)
    plan = planner.plan({"A": 1.0, "C": 0.0, "unknown": 9.0}, 10_000, SHAPE)
    assert {f.split("/")[0] for f in plan.files} == {"A"}
    assert plan.bytes == 80
    assert planner.plan({"A": 1.0}, 5, SHAPE).files == {}
    with pytest.raises(ValueError, match="bins"):
        planner.plan({"A": 1.0}, 10, DemandShape.uniform(["hi", "lo"], bins=3))


def test_planner_splits_uneven_renditions_into_bins() -> None:
    planner = FillPlanner([_title("A", segments=5)], bins=2)
    plan = planner.plan({"A": 1.0}, 30, DemandShape({"hi": 1.0}, (1.0, 0.1)))
    assert list(plan.files) == ["A/hi/0", "A/hi/1", "A/hi/2"]  # bin 0 is segments 0-2
    with pytest.raises(ValueError, match="keys and sizes"):
        planner.add(TitleMedia("X", (Rendition("hi", ["a"], [1, 2]),)))


def test_demand_shape_from_counts() -> None:
    shape = DemandShape.from_counts({"hi": 300, "lo": 100}, [50, 25, 0])
    assert shape.share("hi") == pytest.approx(0.75)
    assert shape.share("lo") == pytest.approx(0.25)
    assert shape.share("never-seen") < 0.01
    assert shape.position_weight == pytest.approx((1.0, 0.5, 1e-3))
    with pytest.raises(ValueError, match="at least one request"):
        DemandShape.from_counts({}, [0])
    uniform = DemandShape.uniform(["a", "b"], bins=4)
    assert uniform.share("a") == 0.5
    assert uniform.position_weight == (1.0,) * 4
