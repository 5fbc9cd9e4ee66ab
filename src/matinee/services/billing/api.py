"""The billing service's routes.

Public (through the gateway, under ``/api/billing``): the plans (anyone), the member's
subscription and invoices (a signed-in member), plan prices (an administrator). Internal
(``/internal/billing``, never routed by the gateway): entitlements for other services, and a
renewal run for operators and tests.

``POST /api/billing/subscription`` needs an ``Idempotency-Key`` header (any unique string per
signup attempt, such as a UUID): retrying with the same key never charges twice and returns the
first answer (marked ``Idempotent-Replayed: true``). The key is required rather than derived
from the request, because two signups with the same card and plan can be two real intents (a
member who canceled and comes back).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query
from fastapi.responses import JSONResponse

from matinee.gateway.auth import Identity
from matinee.runtime.identity import Callers
from matinee.services.billing.schemas import (
    CancelIn,
    CardIn,
    ChangePlanIn,
    EntitlementsOut,
    ErrorOut,
    InvoicePage,
    PlanOut,
    PlanPage,
    PlanPriceIn,
    RenewalRunOut,
    SubscribeIn,
    SubscriptionOut,
)
from matinee.services.billing.service import BillingService

IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9._:\-]{1,200}$"
ACCOUNT_ID_PATTERN = r"^[A-Za-z0-9._:@\-]{1,64}$"

_WHY = {
    400: "The body is not JSON",
    401: "Not signed in",
    402: "The card was declined",
    403: "Not allowed for this caller",
    404: "No such plan or no subscription",
    409: "Not possible in the subscription's current state",
    422: "A field of the request is not valid (the message names it)",
    503: "The payment provider or the database did not answer; retry",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorOut, "description": _WHY[code]} for code in codes}


Limit = Annotated[int, Query(ge=1, le=100, description="Items per page")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="next_cursor of the previous page")
]


def router(service: BillingService, callers: Callers) -> list[APIRouter]:
    public = APIRouter(prefix="/api/billing", tags=["billing"])
    internal = APIRouter(prefix="/internal/billing", tags=["billing internal"])
    member = Depends(callers.member)  # defaults, not Annotated: resolved in this scope
    admin = Depends(callers.admin)

    @public.get("/plans", summary="List the plans and their prices", responses=errors(422))
    async def list_plans(limit: Limit = 20, cursor: Cursor = None) -> PlanPage:
        return await service.plans(limit, cursor)

    @public.put(
        "/plans/{code}",
        summary="Change a plan's price (administrators)",
        responses=errors(400, 401, 403, 404, 422, 503),
    )
    async def set_price(
        body: PlanPriceIn,
        code: Annotated[str, Path(pattern=r"^[a-z]{1,16}$")],
        _: Identity = admin,
    ) -> PlanOut:
        return await service.set_price(code, body.price_cents, body.currency)

    @public.post(
        "/subscription",
        status_code=201,
        response_model=SubscriptionOut,
        summary="Subscribe to a plan with a card",
        responses=errors(400, 401, 402, 404, 409, 422, 503),
    )
    async def subscribe(
        body: SubscribeIn,
        idempotency_key: Annotated[
            str,
            Header(
                alias="Idempotency-Key",
                pattern=IDEMPOTENCY_KEY_PATTERN,
                description="Unique per signup attempt; a retry with it is never charged twice",
            ),
        ],
        who: Identity = member,
    ) -> JSONResponse:
        answer = await service.subscribe(who.subject, body, idempotency_key)
        headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
        return JSONResponse(answer.body, status_code=answer.status, headers=headers)

    @public.get(
        "/subscription", summary="The member's subscription", responses=errors(401, 404, 503)
    )
    async def subscription(who: Identity = member) -> SubscriptionOut:
        return await service.subscription(who.subject)

    @public.post(
        "/subscription/plan",
        summary="Change plan (upgrades now, downgrades at renewal)",
        responses=errors(400, 401, 402, 404, 409, 422, 503),
    )
    async def change_plan(body: ChangePlanIn, who: Identity = member) -> SubscriptionOut:
        return await service.change_plan(who.subject, body.plan)

    @public.post(
        "/subscription/cancel",
        summary="Cancel at the end of the period, or now",
        responses=errors(400, 401, 404, 409, 422, 503),
    )
    async def cancel(
        body: Annotated[CancelIn | None, Body()] = None, who: Identity = member
    ) -> SubscriptionOut:
        at_period_end = True if body is None else body.at_period_end
        return await service.cancel(who.subject, at_period_end=at_period_end)

    @public.post(
        "/subscription/resume",
        summary="Undo a cancellation scheduled for the period's end",
        responses=errors(401, 404, 409, 503),
    )
    async def resume(who: Identity = member) -> SubscriptionOut:
        return await service.resume(who.subject)

    @public.put(
        "/subscription/card",
        summary="Pay with another card (retries a past-due invoice on it)",
        responses=errors(400, 401, 404, 422, 503),
    )
    async def update_card(body: CardIn, who: Identity = member) -> SubscriptionOut:
        return await service.update_card(who.subject, body)

    @public.get(
        "/invoices", summary="The member's invoices, newest first", responses=errors(401, 422, 503)
    )
    async def invoices(
        limit: Limit = 20, cursor: Cursor = None, who: Identity = member
    ) -> InvoicePage:
        return await service.invoices(who.subject, limit, cursor)

    @internal.get(
        "/entitlements/{account_id}",
        summary="What an account may watch (for playback)",
        responses=errors(422, 503),
    )
    async def entitlements(
        account_id: Annotated[str, Path(pattern=ACCOUNT_ID_PATTERN)],
    ) -> EntitlementsOut:
        return await service.entitlements(account_id)

    @internal.post("/renewals/run", summary="Run renewals and dunning now", responses=errors(503))
    async def run_renewals() -> RenewalRunOut:
        return await service.renewals.run()

    return [public, internal]
