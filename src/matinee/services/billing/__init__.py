"""The billing service: plans, subscriptions with renewals and dunning, invoices and a
payments ledger, behind a payment-provider interface (a built-in test provider by default)."""

from __future__ import annotations

from fastapi import APIRouter

from matinee.clock import Clock
from matinee.runtime.app import ServiceSpec
from matinee.runtime.context import ServiceContext
from matinee.runtime.identity import Callers
from matinee.services.billing import api
from matinee.services.billing.config import BillingConfig
from matinee.services.billing.errors import STATUS
from matinee.services.billing.provider import PaymentProvider, TestProvider
from matinee.services.billing.service import BillingService

DESCRIPTION = "Plans, subscriptions, renewals, invoices and payments."


def billing_spec(
    provider: PaymentProvider | None = None,
    config: BillingConfig | None = None,
    *,
    clock: Clock | None = None,
) -> ServiceSpec:
    """The billing service with this provider (default: a :class:`TestProvider` on the
    instance's clock) and config. Tests pass their own provider to count its charges, and may
    give billing a clock of its own (a FakeClock to move renewals along)."""
    cfg = config or BillingConfig()

    def build(ctx: ServiceContext) -> list[APIRouter]:
        time = clock or ctx.clock
        service = BillingService(
            ctx.database(), provider or TestProvider(time), time, ctx.metrics, cfg
        )
        ctx.add_lifespan(service.renewals.loop)
        return api.router(service, Callers(ctx))

    return ServiceSpec("billing", build=build, errors=STATUS, description=DESCRIPTION)


SPEC = billing_spec()

__all__ = [
    "SPEC",
    "BillingConfig",
    "BillingService",
    "PaymentProvider",
    "TestProvider",
    "billing_spec",
]
