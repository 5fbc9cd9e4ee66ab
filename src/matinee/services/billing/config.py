"""The billing service's tunables, with the defaults production uses."""

from __future__ import annotations

from dataclasses import dataclass

from matinee.errors import MatineeError

DAY_S = 86_400.0


class InvalidBillingConfig(MatineeError):
    """A billing setting is out of range."""


@dataclass(frozen=True)
class BillingConfig:
    """How subscriptions are billed.

    * ``trial_days``: free days before the first charge (0: charge at signup); a trial is
      offered only to an account that never had a subscription;
    * ``period_months``: length of a billing period (anchored to the day of the first period);
    * ``dunning_days``: after a declined renewal, retry this many days after the first failure
      (``(1, 3)``: one day later, then three days after the failure); when the last retry is
      declined the subscription is canceled;
    * ``renewal_interval``: seconds between background renewal runs (None: no background loop;
      ``POST /internal/billing/renewals/run`` still runs one);
    * ``charge_attempts`` and ``charge_backoff``: calls per charge, with the same idempotency
      key, while the provider fails transiently (backoff doubles after each);
    * ``settle_after``: a payment left pending by transient failures is asked about again by a
      renewal run once it is this many seconds old;
    * ``max_provider_calls``: after this many transient failures in all, a payment is marked
      failed (logged for reconciliation) so it cannot hold a subscription forever;
    * ``idempotency_lease``: how long a request owns its Idempotency-Key before a retry may take
      over (a request that died midway);
    * ``idempotency_wait``: how long a concurrent request with the same key waits for the first
      one's answer before giving up with 409;
    * ``idempotency_ttl``: Idempotency-Key records older than this are forgotten by the
      renewal run (a day, as Stripe keeps its keys);
    * ``batch``: subscriptions handled per step of a renewal run.
    """

    trial_days: int = 0
    period_months: int = 1
    dunning_days: tuple[float, ...] = (1.0, 3.0)
    renewal_interval: float | None = 60.0
    charge_attempts: int = 3
    charge_backoff: float = 0.2
    settle_after: float = 60.0
    max_provider_calls: int = 20
    idempotency_lease: float = 30.0
    idempotency_wait: float = 10.0
    idempotency_ttl: float = DAY_S
    batch: int = 100

    def __post_init__(self) -> None:
        if self.trial_days < 0:
            raise InvalidBillingConfig("trial_days cannot be negative")
        if self.period_months < 1:
            raise InvalidBillingConfig("period_months must be at least 1")
        if any(d <= 0 for d in self.dunning_days) or list(self.dunning_days) != sorted(
            self.dunning_days
        ):
            raise InvalidBillingConfig("dunning_days must be positive and increasing")
        if self.renewal_interval is not None and self.renewal_interval <= 0:
            raise InvalidBillingConfig("renewal_interval must be positive (or None)")
        if self.charge_attempts < 1 or self.max_provider_calls < self.charge_attempts:
            raise InvalidBillingConfig(
                "charge_attempts must be at least 1 and at most max_provider_calls"
            )
        if min(self.charge_backoff, self.settle_after) < 0:
            raise InvalidBillingConfig("charge_backoff and settle_after cannot be negative")
        if min(self.idempotency_lease, self.idempotency_wait, self.idempotency_ttl) <= 0:
            raise InvalidBillingConfig("the idempotency lease, wait and ttl must be positive")
        if self.batch < 1:
            raise InvalidBillingConfig("batch must be at least 1")
