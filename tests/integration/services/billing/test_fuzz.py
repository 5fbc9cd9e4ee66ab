"""An API fuzz run: schemathesis generates valid and invalid requests for every operation in the
billing service's OpenAPI document (public and internal), and none may make it answer 5xx.

Billing runs in a monolith (registry, billing, gateway) on an event loop of its own in a
background thread (``matinee.testing.fuzz``), with the built-in test payment provider, on
SQLite and on PostgreSQL. Every generated request goes straight to the billing instance, signed
as a member who is also an administrator, so the member and admin operations are exercised
past their checks. The member is subscribed first, so the subscription's operations act on a
real one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from matinee.gateway.auth import Identity
from matinee.resilience.dependency import DependencyConfig
from matinee.runtime.context import RuntimeConfig
from matinee.services import gateway, registry
from matinee.services.billing import SPEC as BILLING
from matinee.services.billing import TestProvider
from matinee.settings import Settings
from matinee.testing.fuzz import SCHEMATHESIS_RANDOM_WARNING, ServedMonolith, fuzz, served

pytestmark = [
    pytest.mark.slow,  # some hundreds of requests on each kind of database
    # schemathesis's own negative strategies draw from the ``random`` module, which Hypothesis
    # warns about; the warning is about schemathesis, not about this test or billing.
    pytest.mark.filterwarnings(SCHEMATHESIS_RANDOM_WARNING),
]

EXAMPLES = 15  # per operation and generation mode
MEMBER = Identity("fuzz-member", roles=("member", "admin"), country="US")
CARD = {
    "plan": "standard",
    "card_number": TestProvider.SUCCEEDS,
    "exp_month": 12,
    "exp_year": 2040,
    "cvc": "123",
}


@pytest.fixture
def billing(db_url: str, tmp_path: Path) -> Iterator[ServedMonolith]:
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    slack = DependencyConfig(timeout_s=10.0)  # a busy shared machine is slow, not down
    config = RuntimeConfig(dependencies={"billing": slack})
    with served(settings, config, [registry.SPEC, BILLING, gateway.SPEC]) as monolith:
        client = monolith.client("billing")
        headers = {**monolith.signed(MEMBER), "Idempotency-Key": "fuzz-setup"}
        subscribed = monolith.run(
            client.post("/api/billing/subscription", json=CARD, headers=headers)
        )
        assert subscribed.status_code == 201, subscribed.text
        yield monolith


@pytest.mark.parametrize("db_factory", ["sqlite", "postgresql"], indirect=True)
def test_no_generated_request_makes_billing_fail(billing: ServedMonolith) -> None:
    report = fuzz(
        billing,
        "billing",
        ("/api/billing", "/internal/billing"),
        headers=lambda: billing.signed(MEMBER),
        examples=EXAMPLES,
    )
    assert report.failures == []
    assert len(report.operations) >= 11, report.operations
    assert report.requests >= len(report.operations) * EXAMPLES  # every operation was exercised
    assert {200, 404, 422} <= set(report.statuses), report.statuses
