"""Billing periods: calendar months anchored to the first day, and proration."""

from __future__ import annotations

from datetime import UTC, datetime

from matinee.clock import FakeClock
from matinee.services.billing.periods import add_months, now_utc, period_end, prorate


def at(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def test_add_months_clamps_to_the_month_end() -> None:
    assert add_months(at(2026, 1, 31), 1) == at(2026, 2, 28)
    assert add_months(at(2028, 1, 31), 1) == at(2028, 2, 29)
    assert add_months(at(2026, 11, 30), 3) == at(2027, 2, 28)
    assert add_months(at(2026, 12, 15), 1) == at(2027, 1, 15)


def test_periods_keep_the_anchor_day() -> None:
    anchor = at(2026, 1, 31)
    ends = []
    start = anchor
    for _ in range(4):
        start = period_end(anchor, start, 1)
        ends.append(start)
    assert ends == [at(2026, 2, 28), at(2026, 3, 31), at(2026, 4, 30), at(2026, 5, 31)]
    assert period_end(anchor, anchor, 3) == at(2026, 4, 30)


def test_prorate_rounds_up_and_stops_at_the_end() -> None:
    start, end = at(2026, 3, 1, 0), at(2026, 3, 31, 0)  # 30 days
    assert prorate(800, at(2026, 3, 16, 0), start, end) == 400
    assert prorate(1000, at(2026, 3, 21, 0), start, end) == 334  # 333.33 rounded up
    assert prorate(1000, start, start, end) == 1000
    assert prorate(1000, end, start, end) == 0
    assert prorate(-5, at(2026, 3, 16, 0), start, end) == 0


def test_now_is_whole_utc_seconds() -> None:
    now = now_utc(FakeClock(1_700_000_000.75))
    assert now == datetime.fromtimestamp(1_700_000_000, UTC)
    assert now.tzinfo is UTC
