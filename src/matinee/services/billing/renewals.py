"""Renewals and dunning: what happens when a period ends, run in the background and on demand.

One run (:meth:`Renewals.run`, also ``POST /internal/billing/renewals/run``) does three steps:

1. every trialing or active subscription whose period ended either ends (it was canceled at
   period end) or gets its renewal invoice, on the plan scheduled for it, and is charged;
2. every past-due subscription whose retry is due gets a new attempt on its open invoice;
3. every payment the provider left unanswered for ``settle_after`` seconds is asked again with
   its own idempotency key;
4. Idempotency-Key records older than ``idempotency_ttl`` are forgotten.

What a charge does to the subscription (active, past due, canceled after the last retry) is
decided in ``ledger.py``. Each step locks the subscription and re-checks that it is still due,
so several instances may run at once: each period is invoiced once and each attempt charged
once. The background loop sleeps ``renewal_interval`` on the injected clock between runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from matinee.runtime.background import every
from matinee.services.billing import store
from matinee.services.billing.config import BillingConfig
from matinee.services.billing.ledger import Ledger, Settled
from matinee.services.billing.periods import now_utc, period_end
from matinee.services.billing.schemas import RenewalRunOut
from matinee.services.billing.states import Status

MAX_BATCHES = 1000  # a guard: one run never loops forever, whatever the data says


class Renewals:
    """Ends periods, charges renewals and retries, settles unanswered payments."""

    def __init__(self, ledger: Ledger, config: BillingConfig) -> None:
        self.ledger = ledger
        self.db = ledger.db
        self.clock = ledger.clock
        self.config = config

    async def run(self) -> RenewalRunOut:
        """One pass over everything due now."""
        now = now_utc(self.clock)
        report = RenewalRunOut()
        for _ in range(MAX_BATCHES):
            async with self.db.read() as s:
                due = await store.due_period_ends(s, now, self.config.batch)
            for sub_id in due:
                self._count(report, await self.renew(sub_id, now))
            if len(due) < self.config.batch:
                break
        for _ in range(MAX_BATCHES):
            async with self.db.read() as s:
                retries = await store.due_retries(s, now, self.config.batch)
            for sub_id in retries:
                settled = await self.retry(sub_id, now)
                if settled is not None:
                    report.retried += 1
                    self._count(report, settled)
            if len(retries) < self.config.batch:
                break
        cutoff = now - timedelta(seconds=self.config.settle_after)
        for _ in range(MAX_BATCHES):
            async with self.db.read() as s:
                stale = await store.stale_payments(s, cutoff, self.config.batch)
            for payment_id in stale:
                settled = await self.ledger.settle(payment_id)
                if settled.status != "pending":
                    report.settled += 1
                self._count(report, settled)
            if len(stale) < self.config.batch:
                break
        async with self.db.write() as s:
            forget = now - timedelta(seconds=self.config.idempotency_ttl)
            await store.prune_idempotency(s, forget, now)
        self.ledger.metrics.counter("billing.renewal_runs").inc()
        return report

    async def renew(self, sub_id: str, now: datetime) -> Settled | None:
        """End or renew one subscription whose period ended (None: nothing was charged)."""
        async with self.db.write() as s:
            sub = await store.subscription(s, sub_id, lock=True)
            due = (
                sub is not None
                and sub.status in (Status.TRIALING, Status.ACTIVE)
                and sub.current_period_end <= now
                and sub.open_invoice_id is None
            )
            if sub is None or not due:
                return None
            if sub.cancel_at_period_end:
                self.ledger.moved(sub, Status.CANCELED, now)
                sub.canceled_at = sub.current_period_end
                return Settled("none", subscription=Status.CANCELED.value)
            if sub.pending_plan_code is not None:
                sub.plan_code, sub.pending_plan_code = sub.pending_plan_code, None
            plan = await store.plan(s, sub.plan_code)
            assert plan is not None  # noqa: S101 - plan_code is a foreign key
            start = sub.current_period_end
            end = period_end(sub.anchor_at, start, self.config.period_months)
            invoice, payment = self.ledger.open_invoice(
                s,
                sub,
                reason="renewal",
                key=f"renewal:{sub.id}:{int(start.timestamp())}",
                plan=plan,
                amount_cents=plan.price_cents,
                period=(start, end),
                now=now,
            )
            sub.open_invoice_id = invoice.id
            sub.updated_at = now
            payment_id = payment.id
        return await self.ledger.settle(payment_id)

    async def retry(self, sub_id: str, now: datetime) -> Settled | None:
        """A dunning retry: a new attempt on the open invoice, on the current card."""
        async with self.db.write() as s:
            sub = await store.subscription(s, sub_id, lock=True)
            if (
                sub is None
                or sub.status != Status.PAST_DUE
                or sub.next_retry_at is None
                or sub.next_retry_at > now
                or sub.open_invoice_id is None
            ):
                return None
            invoice = await store.invoice(s, sub.open_invoice_id, lock=True)
            if invoice is None or invoice.status != "open":
                return None
            sub.next_retry_at = None  # claimed: a concurrent run finds nothing due
            sub.updated_at = now
            payment_id = self.ledger.new_attempt(s, invoice, sub, now).id
        return await self.ledger.settle(payment_id)

    @staticmethod
    def _count(report: RenewalRunOut, settled: Settled | None) -> None:
        if settled is None:
            return
        if settled.status == "pending":
            report.pending += 1
        elif settled.subscription == Status.CANCELED:
            report.canceled += 1
        elif settled.status == "succeeded":
            report.renewed += 1
        elif settled.subscription == Status.PAST_DUE:
            report.past_due += 1

    @asynccontextmanager
    async def loop(self) -> AsyncIterator[None]:
        """For ``ctx.add_lifespan``: a run every ``renewal_interval`` seconds of the clock."""
        interval = self.config.renewal_interval
        if interval is None:
            yield
            return
        async with every(self.clock, interval, self.run, name="billing-renewals")():
            yield
