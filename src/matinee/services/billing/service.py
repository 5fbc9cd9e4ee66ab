"""The billing service's logic: plans, signing up, changing plan, canceling, invoices and the
entitlements other services read. Renewals and dunning live in ``renewals.py``, invoices and
charges in ``ledger.py``, Idempotency-Key handling in ``idempotency.py``."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from matinee.clock import Clock
from matinee.db.aio import Database
from matinee.services.billing import store
from matinee.services.billing.config import BillingConfig
from matinee.services.billing.errors import (
    FINAL_ERRORS,
    AlreadySubscribed,
    InvalidCursor,
    PaymentDeclined,
    PaymentInProgress,
    PaymentProviderUnavailable,
    PlanChangeRefused,
    PlanNotFound,
    SubscriptionNotFound,
)
from matinee.services.billing.idempotency import Answer, Claim, IdempotencyKeys, fingerprint
from matinee.services.billing.ledger import Ledger, Settled
from matinee.services.billing.models import Plan, Subscription
from matinee.services.billing.periods import now_utc, period_end, prorate
from matinee.services.billing.provider import CardDetails, CardToken, PaymentProvider
from matinee.services.billing.renewals import Renewals
from matinee.services.billing.schemas import (
    CardIn,
    EntitlementsOut,
    InvoiceOut,
    InvoicePage,
    PlanOut,
    PlanPage,
    SubscribeIn,
    SubscriptionOut,
)
from matinee.services.billing.states import ENTITLED, Status, check_transition
from matinee.telemetry.metrics import Registry

FINAL = tuple(FINAL_ERRORS.values())
DECLINES = {
    "insufficient_funds": "Your card has insufficient funds; use another card.",
    "provider_unavailable": "The payment could not be completed; try again or use another card.",
}


def declined(settled: Settled) -> PaymentDeclined:
    code = settled.decline_code or "card_declined"
    message = DECLINES.get(code, "Your card was declined; use another card.")
    return PaymentDeclined(message, code)


def unanswered() -> PaymentProviderUnavailable:
    return PaymentProviderUnavailable(
        "The payment provider did not answer; try again in a moment (with the same "
        "Idempotency-Key). You will not be charged twice."
    )


class BillingService:
    """Everything billing does, on one database and one payment provider."""

    def __init__(
        self,
        db: Database,
        provider: PaymentProvider,
        clock: Clock,
        metrics: Registry,
        config: BillingConfig | None = None,
    ) -> None:
        self.db = db
        self.provider = provider
        self.clock = clock
        self.config = config or BillingConfig()
        self.ledger = Ledger(db, provider, clock, self.config, metrics)
        self.keys = IdempotencyKeys(db, clock, self.config)
        self.renewals = Renewals(self.ledger, self.config)

    # --- plans

    async def plans(self, limit: int = 20, cursor: str | None = None) -> PlanPage:
        async with self.db.read() as s:
            rows = list(await store.plans(s))
        start = 0
        if cursor is not None:
            code = _decode_code(cursor)
            codes = [p.code for p in rows]
            if code not in codes:
                raise InvalidCursor("cursor: this is not a cursor from this list.")
            start = codes.index(code) + 1
        page = rows[start : start + limit]
        more = start + limit < len(rows)
        next_cursor = _encode_code(page[-1].code) if more and page else None
        return PlanPage(items=[PlanOut.of(p) for p in page], next_cursor=next_cursor)

    async def set_price(self, code: str, price_cents: int, currency: str | None) -> PlanOut:
        """Change a plan's price; invoices from now on use it (renewals and upgrades)."""
        async with self.db.write() as s:
            plan = await store.plan(s, code, lock=True)
            if plan is None:
                raise PlanNotFound(f"There is no plan {code!r}.")
            plan.price_cents = price_cents
            plan.currency = currency or plan.currency
            plan.updated_at = now_utc(self.clock)
            return PlanOut.of(plan)

    # --- signing up

    async def subscribe(self, account_id: str, body: SubscribeIn, key: str) -> Answer:
        """Sign up with a card, once per Idempotency-Key (see ``idempotency.py``): 201 with the
        subscription, or a final error (declined, invalid card, already subscribed) that every
        retry with the key gets again."""
        digits = "".join(ch for ch in body.card_number if ch.isdigit())
        digest = fingerprint(
            "subscribe", body.plan, digits[-4:], len(digits), body.exp_month, body.exp_year
        )
        async with self.keys.hold(account_id, key, digest) as claim:
            if claim.answer is not None:
                claim.answer.raise_if_error()
                return claim.answer
            try:
                view = await self._subscribe(account_id, body, claim)
            except FINAL as exc:
                await self.keys.finish_error(claim, exc)
                raise
            answer = Answer(201, view.model_dump(mode="json"))
            await self.keys.finish(claim, answer)
            return answer

    async def _subscribe(self, account_id: str, body: SubscribeIn, claim: Claim) -> SubscriptionOut:
        if claim.subscription_id is not None:  # an earlier try got as far as the charge
            return await self._signup_result(claim.subscription_id)
        async with self.db.read() as s:
            if await store.plan(s, body.plan) is None:
                raise PlanNotFound(f"There is no plan {body.plan!r}.")
            live = await store.live_subscription(s, account_id)
        if live is not None:
            raise _taken(live)
        token = await self.provider.tokenize(
            CardDetails(body.card_number, body.exp_month, body.exp_year, body.cvc)
        )
        try:
            sub_id = await self._create(account_id, body.plan, token, claim)
        except IntegrityError:  # another signup took the account's live slot first
            async with self.db.read() as s:
                live = await store.live_subscription(s, account_id)
            raise _taken(live) from None
        return await self._signup_result(sub_id)

    async def _create(self, account_id: str, code: str, token: CardToken, claim: Claim) -> str:
        """The subscription (trialing, or incomplete with its first invoice and attempt)."""
        now = now_utc(self.clock)
        async with self.db.write() as s:
            plan = await store.plan(s, code)
            if plan is None:
                raise PlanNotFound(f"There is no plan {code!r}.")
            trial = self.config.trial_days > 0 and not await store.had_subscription(s, account_id)
            anchor = now + timedelta(days=self.config.trial_days) if trial else now
            end = anchor if trial else period_end(anchor, now, self.config.period_months)
            sub = Subscription(
                id=str(uuid.uuid4()),
                account_id=account_id,
                live_account=account_id,
                status=(Status.TRIALING if trial else Status.INCOMPLETE).value,
                plan_code=plan.code,
                card_token=token.token,
                card_brand=token.brand,
                card_last4=token.last4,
                card_exp_month=token.exp_month,
                card_exp_year=token.exp_year,
                anchor_at=anchor,
                trial_end=anchor if trial else None,
                current_period_start=now,
                current_period_end=end,
                cancel_at_period_end=False,
                dunning_attempts=0,
                created_at=now,
                updated_at=now,
            )
            s.add(sub)
            await s.flush()  # the account's live slot is claimed here (unique live_account)
            if not trial:
                self.ledger.open_invoice(
                    s,
                    sub,
                    reason="signup",
                    key=f"signup:{sub.id}",
                    plan=plan,
                    amount_cents=plan.price_cents,
                    period=(now, end),
                    now=now,
                )
            await self.keys.attach(s, claim, sub.id)
            return sub.id

    async def _signup_result(self, sub_id: str) -> SubscriptionOut:
        """Settle the signup's payment if it is pending, and say how the signup ended."""
        async with self.db.read() as s:
            sub = await store.subscription(s, sub_id)
            invoice = await store.invoice_by_key(s, f"signup:{sub_id}")
            payment = None if invoice is None else await store.latest_payment(s, invoice.id)
        if sub is None:  # pragma: no cover - subscriptions are never deleted
            raise SubscriptionNotFound("The subscription this request started is gone.")
        settled = None if payment is None else Settled(payment.status, payment.decline_code)
        if sub.status == Status.INCOMPLETE and payment is not None and payment.status == "pending":
            settled = await self.ledger.settle(payment.id)
        async with self.db.read() as s:
            sub = await store.subscription(s, sub_id)
            assert sub is not None  # noqa: S101 - read a moment ago
            if sub.status == Status.EXPIRED:
                raise declined(settled or Settled("declined"))
            if sub.status == Status.INCOMPLETE:
                raise unanswered()
            return await self._view(s, sub)

    # --- the member's subscription

    async def subscription(self, account_id: str) -> SubscriptionOut:
        async with self.db.read() as s:
            return await self._view(s, await self._current(s, account_id))

    async def change_plan(self, account_id: str, code: str) -> SubscriptionOut:
        """Upgrades start now and charge the difference for the rest of the period; downgrades
        (and changes between currencies, or while a renewal is being collected) start at the
        next renewal; during a trial a change is free and immediate; choosing the current plan
        drops a scheduled change."""
        now = now_utc(self.clock)
        payment_id: str | None = None
        async with self.db.write() as s:
            sub = await self._current(s, account_id, lock=True)
            if sub.status == Status.CANCELED:
                raise PlanChangeRefused("This subscription is canceled; subscribe again instead.")
            if sub.status == Status.PAST_DUE:
                raise PlanChangeRefused("Settle the overdue payment (update your card) first.")
            new = await store.plan(s, code)
            old = await store.plan(s, sub.plan_code)
            if new is None or old is None:
                raise PlanNotFound(f"There is no plan {code!r}.")
            sub.updated_at = now
            if code == sub.plan_code:
                sub.pending_plan_code = None
            elif sub.status == Status.TRIALING:
                sub.plan_code, sub.pending_plan_code = code, None
            elif (
                new.price_cents <= old.price_cents
                or new.currency != old.currency
                or now >= sub.current_period_end  # being renewed: the change waits for it
            ):
                sub.pending_plan_code = code
            else:
                payment_id = await self._upgrade(s, sub, old, new, now)
        if payment_id is not None:
            settled = await self.ledger.settle(payment_id)
            if settled.status == "pending":
                raise unanswered()
            if settled.status != "succeeded":
                raise declined(settled)
        return await self.subscription(account_id)

    async def _upgrade(
        self, s: AsyncSession, sub: Subscription, old: Plan, new: Plan, now: datetime
    ) -> str | None:
        """The pending payment of the upgrade's invoice (None: nothing to charge, done)."""
        start, end = sub.current_period_start, sub.current_period_end
        amount = prorate(new.price_cents - old.price_cents, now, start, end)
        if amount == 0:
            sub.plan_code, sub.pending_plan_code = new.code, None
            return None
        # One key per (period, plan, failed tries so far): concurrent identical requests share
        # the invoice and its charge; a retry after a decline gets a fresh invoice.
        failed = await store.void_upgrades(s, sub.id, start, new.code)
        key = f"upgrade:{sub.id}:{int(start.timestamp())}:{new.code}:{failed}"
        invoice = await store.invoice_by_key(s, key)
        if invoice is not None:
            payment = await store.latest_payment(s, invoice.id)
            return None if payment is None else payment.id
        _, payment = self.ledger.open_invoice(
            s, sub, reason="upgrade", key=key, plan=new, amount_cents=amount,
            period=(start, end), now=now,
        )  # fmt: skip
        return payment.id

    async def cancel(self, account_id: str, *, at_period_end: bool = True) -> SubscriptionOut:
        """Cancel at the end of the paid period (trialing or active), or now. A past-due
        subscription has no paid period left and ends now."""
        now = now_utc(self.clock)
        async with self.db.write() as s:
            sub = await self._current(s, account_id, lock=True)
            status = Status(sub.status)
            keeps_period = status in (Status.TRIALING, Status.ACTIVE)
            if at_period_end and keeps_period and now < sub.current_period_end:
                sub.cancel_at_period_end = True
                sub.updated_at = now
                return await self._view(s, sub)
            check_transition(status, Status.CANCELED)
            if sub.open_invoice_id is not None:
                invoice = await store.invoice(s, sub.open_invoice_id, lock=True)
                payment = None if invoice is None else await store.latest_payment(s, invoice.id)
                unpaid = payment is None or payment.status != "pending"
                if invoice is not None and invoice.status == "open" and unpaid:
                    invoice.status, invoice.closed_at = "void", now
            self.ledger.moved(sub, Status.CANCELED, now)
            return await self._view(s, sub)

    async def resume(self, account_id: str) -> SubscriptionOut:
        """Undo a cancellation scheduled for the period's end."""
        async with self.db.write() as s:
            sub = await self._current(s, account_id, lock=True)
            if sub.status == Status.CANCELED:
                check_transition(Status.CANCELED, Status.ACTIVE)
            sub.cancel_at_period_end = False
            sub.updated_at = now_utc(self.clock)
            return await self._view(s, sub)

    async def update_card(self, account_id: str, card: CardIn) -> SubscriptionOut:
        """Charge future invoices to another card; a past-due invoice is retried on it now
        (that retry counts as one of the dunning retries)."""
        token = await self.provider.tokenize(
            CardDetails(card.card_number, card.exp_month, card.exp_year, card.cvc)
        )
        now = now_utc(self.clock)
        async with self.db.write() as s:
            sub = await self._current(s, account_id, lock=True)
            if sub.status == Status.CANCELED:
                raise SubscriptionNotFound("This subscription is canceled; subscribe again.")
            sub.card_token, sub.card_brand, sub.card_last4 = token.token, token.brand, token.last4
            sub.card_exp_month, sub.card_exp_year = token.exp_month, token.exp_year
            sub.updated_at = now
            retry = sub.status == Status.PAST_DUE and sub.next_retry_at is not None
            if retry:
                sub.next_retry_at = now
            sub_id = sub.id
        if retry:
            await self.renewals.retry(sub_id, now)
        return await self.subscription(account_id)

    async def invoices(self, account_id: str, limit: int, cursor: str | None) -> InvoicePage:
        after = store.decode_cursor(cursor) if cursor else None
        async with self.db.read() as s:
            rows = list(await store.invoices_page(s, account_id, limit, after))
        page, more = rows[:limit], len(rows) > limit
        last = page[-1] if page else None
        next_cursor = store.encode_cursor(last.created_at, last.id) if more and last else None
        return InvoicePage(items=[InvoiceOut.of(i) for i in page], next_cursor=next_cursor)

    # --- for other services

    async def entitlements(self, account_id: str) -> EntitlementsOut:
        async with self.db.read() as s:
            sub = await store.current_subscription(s, account_id)
            plan = None if sub is None else await store.plan(s, sub.plan_code)
        if sub is None or plan is None:
            return EntitlementsOut(account_id=account_id, status="none", entitled=False, plan=None)
        return EntitlementsOut(
            account_id=account_id,
            status=sub.status,
            entitled=Status(sub.status) in ENTITLED,
            plan=PlanOut.of(plan),
        )

    # --- helpers

    async def _current(
        self, s: AsyncSession, account_id: str, *, lock: bool = False
    ) -> Subscription:
        sub = await store.current_subscription(s, account_id, lock=lock)
        if sub is None:
            raise SubscriptionNotFound("You have no subscription; choose a plan to subscribe.")
        return sub

    async def _view(self, s: AsyncSession, sub: Subscription) -> SubscriptionOut:
        plan = await store.plan(s, sub.plan_code)
        assert plan is not None  # noqa: S101 - plan_code is a foreign key
        return SubscriptionOut.of(sub, plan)


def _taken(live: Subscription | None) -> AlreadySubscribed | PaymentInProgress:
    if live is None or live.status == Status.INCOMPLETE:
        return PaymentInProgress(
            "A payment for your subscription is still being processed; try again shortly."
        )
    return AlreadySubscribed("You already have a subscription; change its plan instead.")


def _encode_code(code: str) -> str:
    return base64.urlsafe_b64encode(f"plan:{code}".encode()).rstrip(b"=").decode("ascii")


def _decode_code(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursor("cursor: this is not a cursor from this list.") from exc
    return raw.removeprefix("plan:")
