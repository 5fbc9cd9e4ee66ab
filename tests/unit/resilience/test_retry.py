"""Zuul's retryability rules and the Finagle-style retry budget."""

from __future__ import annotations

import pytest

from matinee.clock import FakeClock
from matinee.resilience.errors import (
    BulkheadFull,
    CallTimeout,
    CircuitOpen,
    NoInstance,
    UpstreamConnectError,
    UpstreamReadTimeout,
    UpstreamStatusError,
)
from matinee.resilience.retry import RetryBudget, is_retryable
from matinee.runtime.transport import Response


def status_error(status: int) -> UpstreamStatusError:
    return UpstreamStatusError(Response(status, [], b"", "a"), instance="a")


@pytest.mark.parametrize(
    ("exc", "idempotent", "expected"),
    [
        (UpstreamConnectError("refused"), False, True),
        (UpstreamConnectError("refused"), True, True),
        (UpstreamReadTimeout("slow"), False, False),
        (UpstreamReadTimeout("slow"), True, True),
        (status_error(503), True, True),
        (status_error(503), False, False),
        (status_error(500), True, False),
        (status_error(502), True, False),
        (NoInstance("none"), True, False),
        (CircuitOpen("open"), True, False),
        (BulkheadFull("full"), True, False),
        (CallTimeout("late"), True, False),
        (ValueError("bug"), True, False),
    ],
)
def test_zuul_retryability(exc: Exception, idempotent: bool, expected: bool) -> None:
    assert is_retryable(exc, idempotent) is expected


def test_budget_caps_retries_at_the_ratio_of_requests() -> None:
    budget = RetryBudget(ratio=0.2, min_per_second=0.0, clock=FakeClock())
    assert not budget.try_withdraw()
    for _ in range(10):
        budget.deposit()
    assert budget.try_withdraw()
    assert budget.try_withdraw()
    assert not budget.try_withdraw()  # 20 % of 10 requests = 2 retries
    for _ in range(5):
        budget.deposit()
    assert budget.try_withdraw()
    assert not budget.try_withdraw()


def test_reserve_allows_a_minimum_rate_of_retries() -> None:
    budget = RetryBudget(ratio=0.2, min_per_second=1.0, ttl=10.0, clock=FakeClock())
    assert budget.balance == 10.0
    for _ in range(10):
        assert budget.try_withdraw()
    assert not budget.try_withdraw()


def test_deposits_and_withdrawals_expire_after_the_ttl() -> None:
    clock = FakeClock()
    budget = RetryBudget(ratio=0.5, min_per_second=0.0, ttl=10.0, clock=clock)
    for _ in range(4):
        budget.deposit()
    assert budget.try_withdraw()
    clock.advance(9.0)
    assert budget.balance == 1.0
    clock.advance(1.0)
    assert budget.balance == 0.0
    assert not budget.try_withdraw()


def test_fractional_ratios_do_not_lose_a_retry_to_rounding() -> None:
    budget = RetryBudget(ratio=0.1, min_per_second=0.0, clock=FakeClock())
    for _ in range(30):
        budget.deposit()
    assert [budget.try_withdraw() for _ in range(4)] == [True, True, True, False]


def test_invalid_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="ratio"):
        RetryBudget(ratio=-1.0, clock=FakeClock())
    with pytest.raises(ValueError, match="ttl"):
        RetryBudget(ttl=0.5, clock=FakeClock())
