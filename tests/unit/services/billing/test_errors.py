"""Billing's errors: one HTTP status and one reason code each."""

from __future__ import annotations

import pytest

from matinee.db.aio import DatabaseUnavailable
from matinee.services.billing.errors import (
    FINAL_ERRORS,
    AlreadySubscribed,
    BillingError,
    CardInvalid,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    IllegalTransition,
    PaymentDeclined,
    PaymentProviderUnavailable,
    PlanNotFound,
    ProviderRequestMismatch,
    SubscriptionNotFound,
    status_of,
)
from matinee.services.billing.idempotency import Answer


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (PlanNotFound("x"), 404, "plan_not_found"),
        (SubscriptionNotFound("x"), 404, "no_subscription"),
        (AlreadySubscribed("x"), 409, "already_subscribed"),
        (IllegalTransition("x"), 409, "illegal_transition"),
        (IdempotencyKeyInUse("x"), 409, "idempotency_key_in_use"),
        (IdempotencyKeyReused("x"), 422, "idempotency_key_reused"),
        (CardInvalid("x"), 422, "card_invalid"),
        (PaymentDeclined("x"), 402, "card_declined"),
        (PaymentProviderUnavailable("x"), 503, "payment_provider_unavailable"),
        (DatabaseUnavailable("x"), 503, None),
        (ProviderRequestMismatch("x"), 500, None),
    ],
)
def test_statuses_and_codes(error: Exception, status: int, code: str | None) -> None:
    assert status_of(error) == status
    assert getattr(error, "code", None) == code


def test_stored_final_errors_are_raised_again_as_themselves() -> None:
    for code, kind in FINAL_ERRORS.items():
        answer = Answer(status_of(kind("x")), {"error": code, "message": "first words"})
        with pytest.raises(kind, match="first words"):
            answer.raise_if_error()
    with pytest.raises(BillingError, match="failed"):
        Answer(500, {"error": "mystery"}).raise_if_error()
    Answer(201, {"id": "s"}).raise_if_error()  # a success raises nothing
