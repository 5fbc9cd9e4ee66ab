"""Invoices and the payments ledger: record an attempt, charge it, record the outcome.

A charge never happens inside a database transaction, and never without a record:

1. in one transaction the invoice (or a new attempt on it) is written with a ``pending``
   payment whose ``idempotency_key`` is unique (``<invoice id>:<attempt>``);
2. the provider is called with that key; a transient failure is retried with the *same* key,
   so an answer lost on the way back cannot turn into a second charge;
3. in one transaction the payment is settled (succeeded, declined, or failed after too many
   transient failures) together with its effects on the invoice and the subscription.

Step 3 locks the payment row and does nothing if it is no longer pending, so when two callers
settle the same attempt at once (a retried request, two renewal runs) the provider charges once
(same key) and the outcome is applied once. A payment left pending is settled later by the
renewal run with the same key.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from matinee.clock import Clock
from matinee.db.aio import Database
from matinee.services.billing import store
from matinee.services.billing.config import BillingConfig
from matinee.services.billing.errors import PaymentProviderUnavailable
from matinee.services.billing.models import Invoice, Payment, Plan, Subscription
from matinee.services.billing.periods import days, now_utc
from matinee.services.billing.provider import Charge, PaymentProvider
from matinee.services.billing.states import Status, move
from matinee.telemetry.metrics import Registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settled:
    """What became of a payment: its status, the provider's code when declined, and the state
    its subscription was left in (None when unknown)."""

    status: str  # pending | succeeded | declined | failed ("none" when nothing was charged)
    decline_code: str | None = None
    subscription: str | None = None


class Ledger:
    """Writes invoices and payment attempts, and settles attempts with the provider."""

    def __init__(
        self,
        db: Database,
        provider: PaymentProvider,
        clock: Clock,
        config: BillingConfig,
        metrics: Registry,
    ) -> None:
        self.db = db
        self.provider = provider
        self.clock = clock
        self.config = config
        self.metrics = metrics

    def moved(self, sub: Subscription, target: Status, now: datetime) -> None:
        """:func:`states.move`, counted in ``billing.transitions``."""
        before = move(sub, target, now)
        self.metrics.counter("billing.transitions", source=before.value, target=target.value).inc()

    # --- inside a transaction

    def open_invoice(
        self,
        s: AsyncSession,
        sub: Subscription,
        *,
        reason: str,
        key: str,
        plan: Plan,
        amount_cents: int,
        period: tuple[datetime, datetime],
        now: datetime,
    ) -> tuple[Invoice, Payment]:
        """A new open invoice and its first pending attempt."""
        invoice = Invoice(
            id=str(uuid.uuid4()),
            key=key,
            account_id=sub.account_id,
            subscription_id=sub.id,
            reason=reason,
            plan_code=plan.code,
            amount_cents=amount_cents,
            currency=plan.currency,
            status="open",
            period_start=period[0],
            period_end=period[1],
            attempts=0,
            created_at=now,
        )
        s.add(invoice)
        return invoice, self.new_attempt(s, invoice, sub, now)

    def new_attempt(
        self, s: AsyncSession, invoice: Invoice, sub: Subscription, now: datetime
    ) -> Payment:
        """A pending attempt to collect ``invoice`` from the subscription's current card."""
        invoice.attempts += 1
        payment = Payment(
            id=str(uuid.uuid4()),
            invoice_id=invoice.id,
            account_id=invoice.account_id,
            attempt=invoice.attempts,
            idempotency_key=f"{invoice.id}:{invoice.attempts}",
            amount_cents=invoice.amount_cents,
            currency=invoice.currency,
            card_token=sub.card_token,
            card_last4=sub.card_last4,
            status="pending",
            provider_calls=0,
            created_at=now,
            updated_at=now,
        )
        s.add(payment)
        return payment

    # --- around the provider call

    async def settle(self, payment_id: str) -> Settled:
        """Charge a pending attempt (same key on every call) and record the outcome with its
        effects in one transaction. Answers what the payment became (maybe still pending)."""
        async with self.db.read() as s:
            payment = await store.payment(s, payment_id)
        if payment is None:
            raise LookupError(f"no payment {payment_id}")
        if payment.status != "pending":
            return Settled(payment.status, payment.decline_code)
        charge, failures = await self._charge(payment)
        async with self.db.write() as s:
            row = await store.payment(s, payment_id, lock=True)
            assert row is not None  # noqa: S101 - payments are never deleted
            if row.status != "pending":  # settled by someone else meanwhile
                return Settled(row.status, row.decline_code)
            now = now_utc(self.clock)
            row.provider_calls += failures + int(charge is not None)
            row.updated_at = now
            if charge is not None:
                row.status = charge.status
                row.provider_charge_id = charge.id
                row.decline_code = charge.decline_code
            elif row.provider_calls >= self.config.max_provider_calls:
                log.error(
                    "payment %s (key %s) gave up after %d transient failures: reconcile it "
                    "with the provider",
                    row.id,
                    row.idempotency_key,
                    row.provider_calls,
                )
                row.status = "failed"
                row.decline_code = "provider_unavailable"
            else:
                return Settled("pending")
            row.settled_at = now
            sub_status = await self._apply(s, row, now)
            self.metrics.counter("billing.payments", outcome=row.status).inc()
            return Settled(row.status, row.decline_code, sub_status)

    async def _charge(self, payment: Payment) -> tuple[Charge | None, int]:
        """The provider's answer (None if it never gave one) and the transient failures seen."""
        failures = 0
        for attempt in range(self.config.charge_attempts):
            try:
                charge = await self.provider.charge(
                    token=payment.card_token,
                    amount_cents=payment.amount_cents,
                    currency=payment.currency,
                    idempotency_key=payment.idempotency_key,
                )
            except PaymentProviderUnavailable as exc:
                failures += 1
                self.metrics.counter("billing.provider.transient").inc()
                log.warning("charge %s failed transiently: %s", payment.idempotency_key, exc)
                if attempt + 1 < self.config.charge_attempts:
                    await self.clock.sleep(self.config.charge_backoff * 2**attempt)
            else:
                return charge, failures
        return None, failures

    # --- effects of a settled payment (same transaction)

    async def _apply(self, s: AsyncSession, payment: Payment, now: datetime) -> str:
        """Apply a settled payment to its invoice and subscription; the subscription's state."""
        invoice = await store.invoice(s, payment.invoice_id, lock=True)
        assert invoice is not None  # noqa: S101 - a payment always has its invoice
        sub = await store.subscription(s, invoice.subscription_id, lock=True)
        assert sub is not None  # noqa: S101 - an invoice always has its subscription
        if payment.status == "succeeded":
            invoice.status = "paid"
            invoice.closed_at = now
            self._paid(sub, invoice, now)
        else:
            self._unpaid(sub, invoice, now)
        return sub.status

    def _paid(self, sub: Subscription, invoice: Invoice, now: datetime) -> None:
        status = Status(sub.status)
        if status in (Status.CANCELED, Status.EXPIRED):
            # Canceled while the charge was in flight: the money is recorded, nothing resumes.
            self.metrics.counter("billing.paid_after_end").inc()
            log.warning("invoice %s was paid after subscription %s ended", invoice.id, sub.id)
            return
        if invoice.reason == "upgrade":
            sub.plan_code = invoice.plan_code
            sub.pending_plan_code = None
            sub.updated_at = now
            return
        sub.current_period_start = invoice.period_start
        sub.current_period_end = invoice.period_end
        sub.open_invoice_id = None
        self.moved(sub, Status.ACTIVE, now)

    def _unpaid(self, sub: Subscription, invoice: Invoice, now: datetime) -> None:
        status = Status(sub.status)
        if invoice.reason == "upgrade":
            invoice.status = "void"
            invoice.closed_at = now
            return
        if invoice.reason == "signup":
            invoice.status = "void"
            invoice.closed_at = now
            if status == Status.INCOMPLETE:
                self.moved(sub, Status.EXPIRED, now)
            return
        # A renewal: dunning.
        schedule = self.config.dunning_days
        if status in (Status.TRIALING, Status.ACTIVE):
            sub.past_due_since = now
            sub.dunning_attempts = 0
        elif status == Status.PAST_DUE:
            sub.dunning_attempts += 1
        else:  # the subscription ended while this charge was in flight
            invoice.status = "void"
            invoice.closed_at = now
            return
        if sub.dunning_attempts >= len(schedule):
            invoice.status = "uncollectible"
            invoice.closed_at = now
            self.moved(sub, Status.CANCELED, now)
            return
        if status != Status.PAST_DUE:
            self.moved(sub, Status.PAST_DUE, now)
        since = sub.past_due_since or now
        sub.next_retry_at = since + days(schedule[sub.dunning_attempts])
