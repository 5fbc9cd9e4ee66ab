"""The billing service's errors and their HTTP statuses (the runtime renders the JSON body).

::

    BillingError
      PlanNotFound            404 plan_not_found
      SubscriptionNotFound    404 no_subscription
      AlreadySubscribed       409 already_subscribed
      PaymentInProgress       409 payment_in_progress
      IllegalTransition       409 illegal_transition
      PlanChangeRefused       409 plan_change_refused
      IdempotencyKeyReused    422 idempotency_key_reused
      IdempotencyKeyInUse     409 idempotency_key_in_use
      InvalidCursor           422 invalid_cursor
      CardInvalid             422 card_invalid
      CardExpired             422 card_expired
      PaymentDeclined         402 card_declined
      PaymentProviderUnavailable  503 payment_provider_unavailable (transient: retry)
      ProviderRequestMismatch 500 (a bug: one idempotency key sent with two different charges)
"""

from __future__ import annotations

from matinee.db.aio import DatabaseUnavailable
from matinee.errors import MatineeError


class BillingError(MatineeError):
    """Base of the billing service's errors."""


class PlanNotFound(BillingError):
    code = "plan_not_found"


class SubscriptionNotFound(BillingError):
    code = "no_subscription"


class AlreadySubscribed(BillingError):
    code = "already_subscribed"


class PaymentInProgress(BillingError):
    """A payment for this account's signup is still unsettled (the provider did not answer)."""

    code = "payment_in_progress"


class IllegalTransition(BillingError):
    """The subscription's state machine has no such edge."""

    code = "illegal_transition"


class PlanChangeRefused(BillingError):
    code = "plan_change_refused"


class IdempotencyKeyReused(BillingError):
    """The Idempotency-Key was already used for a different request."""

    code = "idempotency_key_reused"


class IdempotencyKeyInUse(BillingError):
    """Another request with the same Idempotency-Key is still running."""

    code = "idempotency_key_in_use"


class InvalidCursor(BillingError):
    code = "invalid_cursor"


class CardInvalid(BillingError):
    code = "card_invalid"


class CardExpired(BillingError):
    code = "card_expired"


class PaymentDeclined(BillingError):
    code = "card_declined"

    def __init__(self, message: str, decline_code: str = "card_declined") -> None:
        super().__init__(message)
        self.decline_code = decline_code


class PaymentProviderUnavailable(BillingError):
    """The payment provider failed transiently; the same request may be retried."""

    code = "payment_provider_unavailable"


class ProviderRequestMismatch(BillingError):
    """One idempotency key was sent with two different charges (a bug in the caller)."""


FINAL_ERRORS: dict[str, type[BillingError]] = {
    cls.code: cls
    for cls in (AlreadySubscribed, PlanNotFound, CardInvalid, CardExpired, PaymentDeclined)
}
"""Errors that are a request's final answer: stored with its Idempotency-Key and replayed."""

STATUS: tuple[tuple[type[Exception], int], ...] = (
    (PlanNotFound, 404),
    (SubscriptionNotFound, 404),
    (AlreadySubscribed, 409),
    (PaymentInProgress, 409),
    (IllegalTransition, 409),
    (PlanChangeRefused, 409),
    (IdempotencyKeyInUse, 409),
    (IdempotencyKeyReused, 422),
    (InvalidCursor, 422),
    (CardInvalid, 422),
    (CardExpired, 422),
    (PaymentDeclined, 402),
    (PaymentProviderUnavailable, 503),
    (DatabaseUnavailable, 503),
)


def status_of(exc: Exception) -> int:
    """The HTTP status :data:`STATUS` gives ``exc`` (500 if none)."""
    return next((code for kind, code in STATUS if isinstance(exc, kind)), 500)
