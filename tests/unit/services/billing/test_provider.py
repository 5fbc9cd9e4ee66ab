"""The test payment provider: Stripe-like cards, tokens instead of numbers, idempotent charges."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from matinee.clock import FakeClock
from matinee.services.billing.errors import (
    CardExpired,
    CardInvalid,
    PaymentProviderUnavailable,
    ProviderRequestMismatch,
)
from matinee.services.billing.provider import (
    CardDetails,
    TestProvider,
    card_brand,
    luhn_ok,
    normalize_number,
)

CLOCK = FakeClock(datetime(2026, 5, 10, tzinfo=UTC).timestamp())


def card(number: str, month: int = 12, year: int = 2030) -> CardDetails:
    return CardDetails(number, month, year, "123")


def test_numbers_are_checked_and_never_shown() -> None:
    assert luhn_ok("4242424242424242")
    assert not luhn_ok("4242424242424241")
    assert normalize_number("4242 4242-4242 4242") == "4242424242424242"
    with pytest.raises(CardInvalid, match="card number is not valid"):
        normalize_number("4242424242424241")
    assert "4242" not in repr(card("4242424242424242"))
    assert [card_brand(n) for n in ("4242", "5555", "2223", "3782", "6011", "9999")] == [
        "visa",
        "mastercard",
        "mastercard",
        "amex",
        "discover",
        "unknown",
    ]


def test_tokenize_keeps_brand_and_last_four_and_refuses_expired_cards() -> None:
    async def main() -> None:
        provider = TestProvider(CLOCK)
        token = await provider.tokenize(card("5555 5555 5555 4444"))
        assert (token.brand, token.last4, token.exp_month, token.exp_year) == (
            "mastercard",
            "4444",
            12,
            2030,
        )
        assert token.token.startswith("tok_ok_")
        assert "5555555555554444" not in token.token
        assert (await provider.tokenize(card("4242424242424242", 5, 2026))).last4 == "4242"
        with pytest.raises(CardExpired, match="expired"):
            await provider.tokenize(card("4242424242424242", 4, 2026))
        with pytest.raises(CardInvalid):
            await provider.tokenize(card("1234"))

    asyncio.run(main())


def test_charges_follow_the_test_cards() -> None:
    async def main() -> None:
        provider = TestProvider(CLOCK)
        ok = await provider.tokenize(card(TestProvider.SUCCEEDS))
        declines = await provider.tokenize(card(TestProvider.DECLINES))
        broke = await provider.tokenize(card(TestProvider.INSUFFICIENT_FUNDS))
        flaky = await provider.tokenize(card(TestProvider.FAILS_TRANSIENTLY))
        paid = await provider.charge(
            token=ok.token, amount_cents=699, currency="USD", idempotency_key="k1"
        )
        assert (paid.status, paid.amount_cents, paid.decline_code) == ("succeeded", 699, None)
        no = await provider.charge(
            token=declines.token, amount_cents=699, currency="USD", idempotency_key="k2"
        )
        assert (no.status, no.decline_code) == ("declined", "card_declined")
        poor = await provider.charge(
            token=broke.token, amount_cents=699, currency="USD", idempotency_key="k3"
        )
        assert poor.decline_code == "insufficient_funds"
        for _ in range(3):
            with pytest.raises(PaymentProviderUnavailable):
                await provider.charge(
                    token=flaky.token, amount_cents=699, currency="USD", idempotency_key="k4"
                )
        assert "k4" not in provider.charges
        assert (provider.calls, provider.transient_failures) == (6, 3)
        assert [c.idempotency_key for c in provider.succeeded] == ["k1"]

    asyncio.run(main())


def test_a_key_charges_once_and_answers_the_same_every_time() -> None:
    async def main() -> None:
        provider = TestProvider(CLOCK)
        token = (await provider.tokenize(card(TestProvider.SUCCEEDS))).token
        first = await provider.charge(
            token=token, amount_cents=1549, currency="USD", idempotency_key="k"
        )
        again = await provider.charge(
            token=token, amount_cents=1549, currency="USD", idempotency_key="k"
        )
        assert again == first
        assert len(provider.succeeded) == 1
        with pytest.raises(ProviderRequestMismatch, match="used for another charge"):
            await provider.charge(token=token, amount_cents=1, currency="USD", idempotency_key="k")
        # A decline is an answer too: the same key declines again, without a second try.
        bad = (await provider.tokenize(card(TestProvider.DECLINES))).token
        provider.script(bad, "succeed")
        declined = await provider.charge(
            token=bad, amount_cents=5, currency="USD", idempotency_key="d"
        )
        assert declined.status == "succeeded"  # the script overrides the card for new keys
        provider.script(bad, "decline")
        no = await provider.charge(token=bad, amount_cents=5, currency="USD", idempotency_key="e")
        assert no.status == "declined"
        assert (
            await provider.charge(token=bad, amount_cents=5, currency="USD", idempotency_key="e")
        ) == no

    asyncio.run(main())


def test_concurrent_calls_with_one_key_charge_once() -> None:
    async def main() -> None:
        provider = TestProvider(CLOCK, latency=0.02)
        token = (await provider.tokenize(card(TestProvider.SUCCEEDS))).token
        answers = await asyncio.gather(
            *(
                provider.charge(token=token, amount_cents=699, currency="USD", idempotency_key="k")
                for _ in range(8)
            )
        )
        assert len({a.id for a in answers}) == 1
        assert len(provider.succeeded) == 1
        assert provider.calls == 8

    asyncio.run(main())


def test_a_lost_answer_is_found_again_with_the_same_key() -> None:
    async def main() -> None:
        provider = TestProvider(CLOCK)
        token = (await provider.tokenize(card(TestProvider.LOSES_FIRST_ANSWER))).token
        with pytest.raises(PaymentProviderUnavailable, match="answer was lost"):
            await provider.charge(
                token=token, amount_cents=699, currency="USD", idempotency_key="k"
            )
        assert len(provider.succeeded) == 1  # the money moved, the answer did not arrive
        found = await provider.charge(
            token=token, amount_cents=699, currency="USD", idempotency_key="k"
        )
        assert found.status == "succeeded"
        assert len(provider.succeeded) == 1

    asyncio.run(main())


def test_tokens_are_understood_by_another_process_and_unknown_ones_refused() -> None:
    async def main() -> None:
        token = (await TestProvider(CLOCK).tokenize(card(TestProvider.DECLINES))).token
        other = TestProvider(CLOCK)
        charge = await other.charge(
            token=token, amount_cents=1, currency="USD", idempotency_key="x"
        )
        assert charge.status == "declined"
        with pytest.raises(CardInvalid, match="does not know this card"):
            await other.charge(
                token="tok_bogus", amount_cents=1, currency="USD", idempotency_key="y"
            )

    asyncio.run(main())
