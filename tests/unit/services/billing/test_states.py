"""The subscription state machine: every edge allowed, every other pair refused in words."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from matinee.services.billing.errors import IllegalTransition
from matinee.services.billing.models import Subscription
from matinee.services.billing.states import (
    ENTITLED,
    LIVE,
    TRANSITIONS,
    VISIBLE,
    Status,
    check_transition,
    move,
)

NOW = datetime(2026, 3, 1, tzinfo=UTC)
EDGES = {
    (Status.INCOMPLETE, Status.ACTIVE),
    (Status.INCOMPLETE, Status.EXPIRED),
    (Status.TRIALING, Status.ACTIVE),
    (Status.TRIALING, Status.PAST_DUE),
    (Status.TRIALING, Status.CANCELED),
    (Status.ACTIVE, Status.ACTIVE),
    (Status.ACTIVE, Status.PAST_DUE),
    (Status.ACTIVE, Status.CANCELED),
    (Status.PAST_DUE, Status.ACTIVE),
    (Status.PAST_DUE, Status.CANCELED),
}


def subscription(status: Status) -> Subscription:
    return Subscription(
        id="s1",
        account_id="a1",
        live_account="a1" if status in LIVE else None,
        status=status.value,
        cancel_at_period_end=True,
        dunning_attempts=2,
        past_due_since=NOW,
        next_retry_at=NOW,
        open_invoice_id="i1",
    )


def test_the_table_has_exactly_the_documented_edges() -> None:
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == EDGES
    assert set(TRANSITIONS) == set(Status)


@pytest.mark.parametrize(("source", "target"), sorted(EDGES))
def test_every_edge_moves(source: Status, target: Status) -> None:
    sub = subscription(source)
    assert move(sub, target, NOW) == source
    assert sub.status == target.value
    assert sub.updated_at == NOW


@pytest.mark.parametrize(
    ("source", "target"),
    sorted(set(itertools.product(Status, Status)) - EDGES),
)
def test_every_other_pair_is_refused_in_plain_words(source: Status, target: Status) -> None:
    sub = subscription(source)
    with pytest.raises(IllegalTransition, match=r"^A subscription that is .+ cannot become .+\.$"):
        move(sub, target, NOW)
    assert sub.status == source.value  # untouched


def test_ending_frees_the_live_slot_and_clears_dunning() -> None:
    sub = subscription(Status.PAST_DUE)
    move(sub, Status.CANCELED, NOW)
    assert (sub.live_account, sub.open_invoice_id, sub.next_retry_at) == (None, None, None)
    assert sub.canceled_at == NOW
    assert sub.cancel_at_period_end is False
    expired = subscription(Status.INCOMPLETE)
    move(expired, Status.EXPIRED, NOW)
    assert expired.live_account is None
    assert expired.canceled_at is None


def test_becoming_active_clears_dunning_but_keeps_the_slot() -> None:
    sub = subscription(Status.PAST_DUE)
    move(sub, Status.ACTIVE, NOW)
    assert (sub.past_due_since, sub.dunning_attempts, sub.next_retry_at) == (None, 0, None)
    assert sub.live_account == "a1"


def test_only_trialing_and_active_are_entitled() -> None:
    assert {Status.TRIALING, Status.ACTIVE} == ENTITLED
    assert {Status.TRIALING, Status.ACTIVE, Status.PAST_DUE, Status.CANCELED} == VISIBLE
    check_transition(Status.PAST_DUE, Status.ACTIVE)  # no error
    with pytest.raises(IllegalTransition, match="canceled cannot become active"):
        check_transition(Status.CANCELED, Status.ACTIVE)
