"""The cache study's workloads: rungs from screens and throughput, how far plays go, sittings."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[3] / "bench"))
from cdn_traces import strata
from cdn_workload import Broadband, Screen, Spread, make_audience, request_profile

# matinee's default ladder, in b/s
BITRATES = np.array([145, 365, 730, 1100, 2000, 3000, 4500, 6000, 7800], dtype=np.float64) * 1e3
TOP = BITRATES.size - 1


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_the_player_takes_the_highest_rung_within_seventy_percent_of_throughput() -> None:
    bb = Broadband(BITRATES, 4.0)
    throughput = np.array([1e5, 7800e3 / 0.7, 7800e3 / 0.7 - 1, 1e9, 3000e3 / 0.7])
    assert bb.fit(throughput).tolist() == [0, TOP, TOP - 1, TOP, 5]


def test_screens_cap_the_rung_and_cellular_phones_stay_low() -> None:
    def fast(screen: Screen) -> Broadband:
        return Broadband(BITRATES, 4.0, screens=(screen,), median_mbps=1000.0, sigma=0.01)

    assert set(fast(Screen("tv", 1.0, TOP, 0.0)).targets(_rng(), 1000).tolist()) == {TOP}
    wifi = fast(Screen("phone", 1.0, 6, 0.0))
    assert set(wifi.targets(_rng(), 1000).tolist()) == {6}
    cell = fast(Screen("phone", 1.0, 6, 1.0))
    assert set(cell.targets(_rng(), 1000).tolist()) == {2}  # 730 kb/s, under the 750 cap
    with pytest.raises(ValueError, match="add up to 1"):
        Broadband(BITRATES, 4.0, screens=(Screen("tv", 0.5, TOP, 0.0),))


def test_broadband_demand_sits_on_the_top_rungs() -> None:
    targets = Broadband(BITRATES, 4.0).targets(_rng(), 100_000)
    share = np.bincount(targets, minlength=BITRATES.size) / targets.size
    assert 0.70 < share[TOP] < 0.85
    assert share[TOP] + share[TOP - 1] + share[TOP - 2] > 0.85
    assert 0.03 < share[2] < 0.05  # phones on a mobile network: 10% x 40%


def test_sessions_ramp_up_then_hold_with_rare_one_rung_dips() -> None:
    bb = Broadband(BITRATES, 4.0, dip=0.1)
    assert bb.start_rung == 0  # 0.7 x 500 kb/s fits only the lowest rung
    step = np.tile(np.arange(50), 200)
    rung = bb.rungs(_rng(), np.full(step.size, TOP), step)
    assert rung[step == 0].tolist() == [0] * 200
    assert set(rung[step == 1].tolist()) == {3}
    assert set(rung[step == 2].tolist()) == {6}
    steady = rung[step >= 3]
    assert set(steady.tolist()) == {TOP - 1, TOP}
    assert 0.08 < np.mean(steady == TOP - 1) < 0.12


def test_three_in_four_plays_past_two_minutes_reach_seventy_percent() -> None:
    bb = Broadband(BITRATES, 4.0)
    nseg = np.full(200_000, 900, dtype=np.int64)  # one-hour titles
    watched = bb.extent(_rng(), nseg)
    assert watched.min() >= 1
    assert watched.max() <= 900
    past_two = watched > 30  # 2 minutes of 4 s segments
    reached = watched > 0.7 * 900 + 1
    assert reached[past_two].mean() == pytest.approx(0.74, abs=0.01)
    assert np.mean(watched <= 30) == pytest.approx(0.2 * (1 - np.exp(-1)), abs=0.005)
    assert np.all(watched[reached] >= 0.92 * 900)  # those who stay stop in the credits


def test_long_views_split_into_two_sittings_that_cover_the_view() -> None:
    bb = Broadband(BITRATES, 4.0, split_share=1.0, split_after=0.0, sampler_share=0.0)
    plays = 1000
    title = np.arange(plays, dtype=np.int64)
    start = np.zeros(plays)
    s = bb.sessions(_rng(1), title, start, np.full(plays, 1500, dtype=np.int64))
    assert s.title.size == 2 * plays  # every view split
    first, second = slice(0, plays), slice(plays, 2 * plays)
    assert np.all(s.first[first] == 0)
    assert np.all(s.first[second] == s.length[first])  # the second sitting resumes the first
    assert np.all(s.title[second] == title)
    assert np.all(s.start[second] >= s.length[first] * 4.0)
    watched = s.length[first] + s.length[second]
    assert np.all(watched <= 1500)
    assert np.all(watched >= 30)  # no samplers: every view lasts 2 minutes at least
    assert np.all(s.length > 0)


def test_the_spread_workload_is_the_first_studys() -> None:
    spread = Spread()
    assert spread.mix[TOP] == pytest.approx(0.65 * 0.6 + 0.1 * 0.3)
    step = np.array([0, 1, 2, 0, 1, 2])
    target = np.array([8, 8, 8, 3, 3, 3])
    assert spread.rungs(_rng(), target, step).tolist() == [2, 4, 8, 2, 3, 3]
    s = spread.sessions(_rng(), np.zeros(10_000, np.int64), np.zeros(10_000), np.array([1000]))
    assert np.mean(s.first > 0) == pytest.approx(0.3, abs=0.02)
    assert np.all(s.first + s.length <= 1000)


def test_request_profile_reflects_rungs_and_positions() -> None:
    profile = request_profile(Spread(), _rng(), rungs=9, bins=20, plays=20_000)
    per_rung = profile.sum(axis=1) / profile.sum()
    assert per_rung[TOP] == pytest.approx(0.42, abs=0.02)
    bb = request_profile(Broadband(BITRATES, 4.0), _rng(), rungs=9, bins=20, plays=20_000)
    by_bin = bb.sum(axis=0)
    assert by_bin[0] > by_bin[10] > by_bin[19]  # samplers thin the middle, credits the end
    assert 0.55 < by_bin.mean() < 0.75  # share of a title one play watches


def test_unknown_workload() -> None:
    assert make_audience("spread", BITRATES, 4.0).name == "spread"
    with pytest.raises(ValueError, match="unknown workload"):
        make_audience("dialup", BITRATES, 4.0)


def test_strata_sum_the_real_titles_they_stand_for() -> None:
    assert strata(3, 1.0, 1).tolist() == pytest.approx([1, 1 / 2, 1 / 3])
    assert strata(2, 1.0, 2).tolist() == pytest.approx([1 + 1 / 2, 1 / 3 + 1 / 4])
