"""The payment provider: an interface, and a built-in test provider that really works.

A provider turns a card into a token (matinee never stores card numbers: it keeps the token,
the brand and the last four digits) and charges a token. Like Stripe, a provider is
**idempotent per key**: a charge sent again with the same idempotency key returns the first
result (success or decline) and never charges twice; the same key with different parameters is
refused. A transient failure (:class:`PaymentProviderUnavailable`) means "no answer": the
caller retries with the same key, which is safe whether or not the first call got through.

:class:`TestProvider` keeps its cards and charges in memory and answers by card number, like
Stripe's test cards:

==================  ========================================================
4242424242424242    succeeds (any other valid number succeeds too)
5555555555554444    succeeds (Mastercard)
4000000000000002    declined: ``card_declined``
4000000000009995    declined: ``insufficient_funds``
4000000000000119    fails transiently on every call
4000000000000333    charges, but the first answer per key is lost (a transient failure);
                    the retry with the same key returns that charge
==================  ========================================================

Its tokens name the card's behaviour (``tok_ok_...``), so another process's test provider
understands them too; its charges, though, live in one process (use one billing instance, or a
real provider, when charges must be shared).
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar, Literal, Protocol

from matinee.clock import Clock, SystemClock
from matinee.services.billing.errors import (
    CardExpired,
    CardInvalid,
    PaymentProviderUnavailable,
    ProviderRequestMismatch,
)

ChargeStatus = Literal["succeeded", "declined"]
Behaviour = Literal["ok", "decline", "nofunds", "fail", "lose"]
Outcome = Literal["succeed", "decline", "fail"]


@dataclass(frozen=True)
class CardDetails:
    """A card as the member typed it. Its ``repr`` hides the number and the code."""

    number: str = field(repr=False)
    exp_month: int
    exp_year: int
    cvc: str = field(repr=False)


@dataclass(frozen=True)
class CardToken:
    """What matinee keeps of a card."""

    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class Charge:
    """A provider's answer to a charge (a decline is an answer, not an error)."""

    id: str
    idempotency_key: str
    token: str
    amount_cents: int
    currency: str
    status: ChargeStatus
    decline_code: str | None = None
    message: str | None = None


class PaymentProvider(Protocol):
    """What billing needs from a payment provider."""

    name: str

    async def tokenize(self, card: CardDetails) -> CardToken:
        """Store the card at the provider; raises CardInvalid, CardExpired or
        PaymentProviderUnavailable."""
        ...

    async def charge(
        self, *, token: str, amount_cents: int, currency: str, idempotency_key: str
    ) -> Charge:
        """Charge ``token`` once per ``idempotency_key``; raises PaymentProviderUnavailable
        (retry with the same key) or ProviderRequestMismatch."""
        ...


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        digit = int(ch)
        if i % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def card_brand(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"34", "37"}:
        return "amex"
    if number[:2] in {"51", "52", "53", "54", "55"} or "2221" <= number[:4] <= "2720":
        return "mastercard"
    if number.startswith(("6011", "65")):
        return "discover"
    return "unknown"


def normalize_number(number: str) -> str:
    """Digits only (members type spaces and dashes); raises CardInvalid."""
    digits = number.replace(" ", "").replace("-", "")
    if not digits.isdigit() or not 12 <= len(digits) <= 19 or not luhn_ok(digits):
        raise CardInvalid("The card number is not valid; check it and try again.")
    return digits


class TestProvider:
    """An in-memory payment provider with Stripe-like test cards (see the module docstring).

    ``latency`` (seconds of real time per charge) widens race windows in concurrency tests;
    :meth:`script` makes a token's next charges succeed, decline or fail transiently.
    """

    __test__ = False  # not a pytest test class, whatever its name

    name = "test"
    SUCCEEDS = "4242424242424242"
    SUCCEEDS_MASTERCARD = "5555555555554444"
    DECLINES = "4000000000000002"
    INSUFFICIENT_FUNDS = "4000000000009995"
    FAILS_TRANSIENTLY = "4000000000000119"
    LOSES_FIRST_ANSWER = "4000000000000333"
    _BEHAVIOURS: ClassVar[dict[str, Behaviour]] = {
        DECLINES: "decline",
        INSUFFICIENT_FUNDS: "nofunds",
        FAILS_TRANSIENTLY: "fail",
        LOSES_FIRST_ANSWER: "lose",
    }

    def __init__(self, clock: Clock | None = None, *, latency: float = 0.0) -> None:
        self.clock = clock or SystemClock()
        self.latency = latency
        self.charges: dict[str, Charge] = {}  # by idempotency key
        self.calls = 0  # every charge call, answered or not
        self.call_keys: list[str] = []  # the idempotency key of each call, in order
        self.transient_failures = 0
        self.tokens: list[CardToken] = []
        self._scripts: dict[str, deque[Outcome]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def succeeded(self) -> list[Charge]:
        """Charges that took money."""
        return [c for c in self.charges.values() if c.status == "succeeded"]

    def script(self, token: str, *outcomes: Outcome) -> None:
        """The next charges of ``token`` (new keys only) have these outcomes, in order."""
        self._scripts.setdefault(token, deque()).extend(outcomes)

    async def tokenize(self, card: CardDetails) -> CardToken:
        number = normalize_number(card.number)
        if not (1 <= card.exp_month <= 12) or not card.cvc.isdigit():
            raise CardInvalid("The card's expiry month or security code is not valid.")
        today = datetime.fromtimestamp(self.clock.time(), UTC)
        if (card.exp_year, card.exp_month) < (today.year, today.month):
            raise CardExpired("The card has expired; use another card.")
        behaviour = self._BEHAVIOURS.get(number, "ok")
        token = CardToken(
            token=f"tok_{behaviour}_{secrets.token_hex(8)}",
            brand=card_brand(number),
            last4=number[-4:],
            exp_month=card.exp_month,
            exp_year=card.exp_year,
        )
        self.tokens.append(token)
        return token

    async def charge(
        self, *, token: str, amount_cents: int, currency: str, idempotency_key: str
    ) -> Charge:
        self.calls += 1
        self.call_keys.append(idempotency_key)
        lock = self._locks.setdefault(idempotency_key, asyncio.Lock())
        async with lock:  # a second call with the same key waits for the first one's answer
            if self.latency:
                await asyncio.sleep(self.latency)
            done = self.charges.get(idempotency_key)
            if done is not None:
                if (done.token, done.amount_cents, done.currency) != (
                    token,
                    amount_cents,
                    currency,
                ):
                    raise ProviderRequestMismatch(
                        f"The idempotency key {idempotency_key!r} was used for another charge."
                    )
                return done
            outcome = self._next_outcome(token)
            if outcome == "fail":
                self.transient_failures += 1
                raise PaymentProviderUnavailable(
                    "The payment provider did not answer; try again in a moment."
                )
            charge = self._record(token, amount_cents, currency, idempotency_key, outcome)
            if self._behaviour(token) == "lose" and outcome == "succeed":
                self.transient_failures += 1  # the charge happened, its answer got lost
                raise PaymentProviderUnavailable("The payment provider's answer was lost.")
            return charge

    def _behaviour(self, token: str) -> Behaviour:
        parts = token.split("_")
        kind = parts[1] if len(parts) == 3 and parts[0] == "tok" else ""
        if kind in ("ok", "decline", "nofunds", "fail", "lose"):
            return kind  # type: ignore[return-value]  # checked against the literal above
        raise CardInvalid("The payment provider does not know this card.")

    def _next_outcome(self, token: str) -> Outcome:
        script = self._scripts.get(token)
        if script:
            return script.popleft()
        behaviour = self._behaviour(token)
        if behaviour == "fail":
            return "fail"
        if behaviour in ("decline", "nofunds"):
            return "decline"
        return "succeed"

    def _record(
        self, token: str, amount_cents: int, currency: str, key: str, outcome: Outcome
    ) -> Charge:
        code = message = None
        if outcome == "decline":
            code, message = "card_declined", "The card was declined."
            if self._behaviour(token) == "nofunds":
                code, message = "insufficient_funds", "The card has insufficient funds."
        charge = Charge(
            id=f"ch_{secrets.token_hex(10)}",
            idempotency_key=key,
            token=token,
            amount_cents=amount_cents,
            currency=currency,
            status="declined" if code else "succeeded",
            decline_code=code,
            message=message,
        )
        self.charges[key] = charge
        return charge
