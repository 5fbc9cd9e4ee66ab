"""Billing time: whole seconds of UTC (MySQL's DATETIME keeps no fractions), calendar months
anchored to the day a subscription's first paid period began, and proration."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

from matinee.clock import Clock


def now_utc(clock: Clock) -> datetime:
    """The clock's time as an aware UTC datetime, cut to whole seconds."""
    return datetime.fromtimestamp(int(clock.time()), UTC)


def add_months(anchor: datetime, months: int) -> datetime:
    """``anchor`` moved by whole months; a day the month lacks becomes its last day
    (31 January + 1 month = 28 or 29 February)."""
    index = anchor.month - 1 + months
    year, month = anchor.year + index // 12, index % 12 + 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def period_end(anchor: datetime, start: datetime, months: int) -> datetime:
    """The end of the period that begins at ``start``: the first boundary anchored on
    ``anchor`` (every ``months`` months) at least ``months`` months on from ``start``'s month,
    so 31 Jan -> 28 Feb -> 31 Mar keeps the 31st."""
    elapsed = (start.year - anchor.year) * 12 + start.month - anchor.month
    end = add_months(anchor, elapsed + months)
    while end <= start:
        elapsed += months
        end = add_months(anchor, elapsed + months)
    return end


def prorate(amount_cents: int, now: datetime, start: datetime, end: datetime) -> int:
    """The share of ``amount_cents`` for what is left of ``[start, end)`` at ``now``, rounded up
    to a whole cent (0 once the period is over)."""
    total = (end - start).total_seconds()
    left = (end - max(now, start)).total_seconds()
    if amount_cents <= 0 or total <= 0 or left <= 0:
        return 0
    return -(-amount_cents * int(left) // int(total))


def days(value: float) -> timedelta:
    return timedelta(days=value)
