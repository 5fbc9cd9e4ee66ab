"""The billing API's request and response bodies (pydantic), with examples for OpenAPI."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from matinee.services.billing.models import Invoice, Plan, Subscription
from matinee.services.billing.plans import PlanCode

PLAN_EXAMPLE: JsonDict = {
    "code": "standard",
    "name": "Standard",
    "max_streams": 2,
    "max_height": 1080,
    "price_cents": 1549,
    "currency": "USD",
}
WHEN = "2026-11-24T12:00:00Z"


class PlanOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PLAN_EXAMPLE]})

    code: PlanCode
    name: str
    max_streams: int
    max_height: int
    price_cents: int = Field(description="Price per billing period, in cents")
    currency: str

    @classmethod
    def of(cls, plan: Plan) -> PlanOut:
        return cls(
            code=plan.code,
            name=plan.name,
            max_streams=plan.max_streams,
            max_height=plan.max_height,
            price_cents=plan.price_cents,
            currency=plan.currency,
        )


class PlanPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [PLAN_EXAMPLE], "next_cursor": None}]}
    )

    items: list[PlanOut]
    next_cursor: str | None = None


class PlanPriceIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"price_cents": 1599, "currency": "USD"}]}
    )

    price_cents: int = Field(
        ge=0, le=1_000_000, strict=True, description="New price per period, in whole cents"
    )
    currency: str | None = Field(
        default=None, pattern=r"^[A-Z]{3}$", description="ISO 4217 code; unchanged if absent"
    )


class CardIn(BaseModel):
    """A card as typed. It goes to the payment provider and is never stored."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "card_number": "4242 4242 4242 4242",
                    "exp_month": 12,
                    "exp_year": 2030,
                    "cvc": "123",
                }
            ]
        },
    )

    card_number: str = Field(
        pattern=r"^[0-9][0-9 -]{10,24}[0-9]$", description="12-19 digits", repr=False
    )
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=2000, le=2200)
    cvc: str = Field(pattern=r"^[0-9]{3,4}$", repr=False)


class SubscribeIn(CardIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "plan": "standard",
                    "card_number": "4242424242424242",
                    "exp_month": 12,
                    "exp_year": 2030,
                    "cvc": "123",
                }
            ]
        },
    )

    plan: PlanCode


class ChangePlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"plan": "premium"}]})

    plan: PlanCode


class CancelIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"at_period_end": True}]}
    )

    at_period_end: bool = Field(
        default=True, description="Keep watching until the paid period ends (default), or stop now"
    )


class CardOut(BaseModel):
    brand: str
    last4: str
    exp_month: int
    exp_year: int


SUBSCRIPTION_EXAMPLE: JsonDict = {
    "id": "6f1c0d7e-1b1e-4c55-9a53-2f4f8f0b7d10",
    "status": "active",
    "plan": PLAN_EXAMPLE,
    "pending_plan": None,
    "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030},
    "current_period_start": WHEN,
    "current_period_end": "2026-12-24T12:00:00Z",
    "trial_end": None,
    "cancel_at_period_end": False,
    "canceled_at": None,
    "past_due_since": None,
    "next_retry_at": None,
    "created_at": WHEN,
}


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [SUBSCRIPTION_EXAMPLE]})

    id: str
    status: Literal["trialing", "active", "past_due", "canceled"]
    plan: PlanOut
    pending_plan: PlanCode | None = Field(description="The plan that starts at the next renewal")
    card: CardOut
    current_period_start: datetime
    current_period_end: datetime
    trial_end: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None
    past_due_since: datetime | None
    next_retry_at: datetime | None = Field(description="When a past-due payment is tried again")
    created_at: datetime

    @classmethod
    def of(cls, sub: Subscription, plan: Plan) -> SubscriptionOut:
        return cls(
            id=sub.id,
            status=sub.status,
            plan=PlanOut.of(plan),
            pending_plan=sub.pending_plan_code,
            card=CardOut(
                brand=sub.card_brand,
                last4=sub.card_last4,
                exp_month=sub.card_exp_month,
                exp_year=sub.card_exp_year,
            ),
            current_period_start=sub.current_period_start,
            current_period_end=sub.current_period_end,
            trial_end=sub.trial_end,
            cancel_at_period_end=sub.cancel_at_period_end,
            canceled_at=sub.canceled_at,
            past_due_since=sub.past_due_since,
            next_retry_at=sub.next_retry_at,
            created_at=sub.created_at,
        )


INVOICE_EXAMPLE: JsonDict = {
    "id": "0b9c3f5e-9d1a-4a8e-8c4e-7c3e1f2a9b11",
    "subscription_id": SUBSCRIPTION_EXAMPLE["id"],
    "reason": "renewal",
    "plan": "standard",
    "amount_cents": 1549,
    "currency": "USD",
    "status": "paid",
    "period_start": WHEN,
    "period_end": "2026-12-24T12:00:00Z",
    "attempts": 1,
    "created_at": WHEN,
    "closed_at": WHEN,
}


class InvoiceOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [INVOICE_EXAMPLE]})

    id: str
    subscription_id: str
    reason: Literal["signup", "renewal", "upgrade"]
    plan: PlanCode
    amount_cents: int
    currency: str
    status: Literal["open", "paid", "void", "uncollectible"]
    period_start: datetime
    period_end: datetime
    attempts: int = Field(description="Charges tried for this invoice")
    created_at: datetime
    closed_at: datetime | None

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceOut:
        return cls(
            id=invoice.id,
            subscription_id=invoice.subscription_id,
            reason=invoice.reason,
            plan=invoice.plan_code,
            amount_cents=invoice.amount_cents,
            currency=invoice.currency,
            status=invoice.status,
            period_start=invoice.period_start,
            period_end=invoice.period_end,
            attempts=invoice.attempts,
            created_at=invoice.created_at,
            closed_at=invoice.closed_at,
        )


class InvoicePage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [INVOICE_EXAMPLE], "next_cursor": None}]}
    )

    items: list[InvoiceOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")


class EntitlementsOut(BaseModel):
    """The internal contract playback reads (``services-spec``: billing entitlements)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account_id": "a1",
                    "status": "active",
                    "entitled": True,
                    "plan": PLAN_EXAMPLE,
                }
            ]
        }
    )

    account_id: str
    status: Literal["none", "trialing", "active", "past_due", "canceled"]
    entitled: bool
    plan: PlanOut | None


class RenewalRunOut(BaseModel):
    """What one renewal run did."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "renewed": 3,
                    "past_due": 1,
                    "canceled": 1,
                    "retried": 2,
                    "settled": 0,
                    "pending": 0,
                }
            ]
        }
    )

    renewed: int = Field(default=0, description="Periods paid")
    past_due: int = Field(default=0, description="Charges declined, subscription past due")
    canceled: int = Field(default=0, description="Subscriptions ended (at period end or dunning)")
    retried: int = Field(default=0, description="Dunning retries made")
    settled: int = Field(default=0, description="Earlier unanswered payments settled")
    pending: int = Field(default=0, description="Payments the provider did not answer yet")


class ErrorOut(BaseModel):
    """Every error answer (rendered by the runtime)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": "card_declined",
                    "message": "Your card was declined; use another card.",
                    "request_id": "5f0c2a4b9e8d7c6b",
                }
            ]
        }
    )

    error: str = Field(description="A reason code a client can act on")
    message: str = Field(description="Plain words for a person")
    request_id: str | None = None
