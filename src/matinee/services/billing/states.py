"""The subscription state machine.

Members see four states (the entitlements contract): ``trialing``, ``active``, ``past_due`` and
``canceled``. Two more are internal and read as "no subscription" from outside: ``incomplete``
(signed up, first payment not settled yet; it holds the account's one live slot so a second
signup cannot charge twice) and ``expired`` (the first payment was declined).

::

    incomplete --first payment ok--> active
    incomplete --first payment declined--> expired
    trialing --trial-end charge ok--> active
    trialing --trial-end charge declined--> past_due
    trialing --cancel--> canceled
    active --renewal ok--> active (a new period)
    active --renewal declined--> past_due
    active --cancel now, or at period end--> canceled
    past_due --a retry succeeds--> active
    past_due --the last retry fails, or cancel--> canceled

``canceled`` and ``expired`` are final: a member who comes back starts a new subscription.
"""

from __future__ import annotations

import enum
from datetime import datetime

from matinee.services.billing.errors import IllegalTransition
from matinee.services.billing.models import Subscription


class Status(enum.StrEnum):
    INCOMPLETE = "incomplete"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"
    EXPIRED = "expired"


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.INCOMPLETE: frozenset({Status.ACTIVE, Status.EXPIRED}),
    Status.TRIALING: frozenset({Status.ACTIVE, Status.PAST_DUE, Status.CANCELED}),
    Status.ACTIVE: frozenset({Status.ACTIVE, Status.PAST_DUE, Status.CANCELED}),
    Status.PAST_DUE: frozenset({Status.ACTIVE, Status.CANCELED}),
    Status.CANCELED: frozenset(),
    Status.EXPIRED: frozenset(),
}

LIVE = frozenset({Status.INCOMPLETE, Status.TRIALING, Status.ACTIVE, Status.PAST_DUE})
"""States that hold the account's one live slot."""

VISIBLE = frozenset({Status.TRIALING, Status.ACTIVE, Status.PAST_DUE, Status.CANCELED})
"""States a member (and the entitlements endpoint) sees."""

ENTITLED = frozenset({Status.TRIALING, Status.ACTIVE})

_WORDS = {
    Status.INCOMPLETE: "still waiting for its first payment",
    Status.TRIALING: "in its trial",
    Status.ACTIVE: "active",
    Status.PAST_DUE: "past due",
    Status.CANCELED: "canceled",
    Status.EXPIRED: "expired",
}


def can_move(current: Status, target: Status) -> bool:
    return target in TRANSITIONS[current]


def check_transition(current: Status, target: Status) -> None:
    """Raise :class:`IllegalTransition` unless ``current -> target`` is an edge of the machine."""
    if not can_move(current, target):
        raise IllegalTransition(
            f"A subscription that is {_WORDS[current]} cannot become {_WORDS[target]}."
        )


def move(sub: Subscription, target: Status, now: datetime) -> Status:
    """Move ``sub`` along an edge of the machine (IllegalTransition otherwise) and keep its
    bookkeeping in step; returns the state it left."""
    current = Status(sub.status)
    check_transition(current, target)
    sub.status = target.value
    sub.updated_at = now
    if target in (Status.CANCELED, Status.EXPIRED):
        sub.live_account = None  # frees the account's live slot
        sub.open_invoice_id = None
        sub.next_retry_at = None
        sub.cancel_at_period_end = False
        if target == Status.CANCELED:
            sub.canceled_at = now
    if target == Status.ACTIVE:
        sub.past_due_since = None
        sub.dunning_attempts = 0
        sub.next_retry_at = None
    return current
