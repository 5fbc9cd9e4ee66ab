"""A billing service on a real database with a counting test provider, for the unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from matinee.clock import FakeClock
from matinee.db.aio import Database
from matinee.services.billing import store
from matinee.services.billing.config import BillingConfig
from matinee.services.billing.models import Invoice, Payment, Subscription
from matinee.services.billing.provider import TestProvider
from matinee.services.billing.schemas import SubscribeIn
from matinee.services.billing.service import BillingService
from matinee.telemetry.metrics import Registry

# 31 January: renewals must land on 28 February, then 31 March.
START = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)
DAY = 86_400.0
OK = TestProvider.SUCCEEDS
DECLINES = TestProvider.DECLINES
TRANSIENT = TestProvider.FAILS_TRANSIENTLY
LOSES = TestProvider.LOSES_FIRST_ANSWER

QUICK = BillingConfig(renewal_interval=None, charge_backoff=0.0, settle_after=0.0)


def clock_at_start() -> FakeClock:
    return FakeClock(START.timestamp())


def signup(plan: str = "standard", card: str = OK, **overrides: Any) -> SubscribeIn:
    return SubscribeIn(
        plan=plan,
        card_number=card,
        exp_month=overrides.pop("exp_month", 12),
        exp_year=overrides.pop("exp_year", 2030),
        cvc=overrides.pop("cvc", "123"),
    )


@dataclass
class Billing:
    service: BillingService
    provider: TestProvider
    clock: FakeClock
    db: Database

    async def sub(self, account: str) -> Subscription:
        """The account's newest subscription, whatever its state."""
        async with self.db.read() as s:
            found = await s.scalar(
                select(Subscription)
                .where(Subscription.account_id == account)
                .order_by(Subscription.created_at.desc(), Subscription.live_account.is_(None))
                .limit(1)
            )
        assert found is not None, f"{account} has no subscription"
        return found

    async def invoices(self, account: str) -> list[Invoice]:
        async with self.db.read() as s:
            rows = await store.invoices_page(s, account, 100, None)
        return sorted(rows, key=lambda i: (i.created_at, i.period_start))

    async def payments(self, invoice_id: str) -> list[Payment]:
        async with self.db.read() as s:
            return list(await store.payments_of(s, invoice_id))

    async def token(self, account: str) -> str:
        return (await self.sub(account)).card_token


@asynccontextmanager
async def billing(
    url: str,
    config: BillingConfig = QUICK,
    *,
    clock: FakeClock | None = None,
    provider: TestProvider | None = None,
    db: Database | None = None,
) -> AsyncIterator[Billing]:
    clock = clock or clock_at_start()
    provider = provider or TestProvider(clock)
    database = db or Database(url)
    service = BillingService(database, provider, clock, Registry(clock), config)
    try:
        yield Billing(service, provider, clock, database)
    finally:
        if db is None:
            await database.close()
