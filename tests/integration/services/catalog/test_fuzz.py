"""An API fuzz run: schemathesis generates valid and invalid requests for every operation in the
catalog's OpenAPI document, and none may make it answer 5xx.

On every kind of database, the catalog runs in a monolith (registry, media, catalog, gateway)
on an event loop of its own in a background thread (``matinee.testing.fuzz``); every generated
request goes straight to the catalog instance, signed as an administrator so the admin
operations are exercised too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from matinee.gateway.auth import Identity
from matinee.runtime.context import RuntimeConfig
from matinee.services import gateway, media, registry
from matinee.services.catalog import SPEC as CATALOG
from matinee.settings import Settings
from matinee.testing.fuzz import SCHEMATHESIS_RANDOM_WARNING, ServedMonolith, fuzz, served

pytestmark = [
    pytest.mark.slow,  # some hundreds of requests on each kind of database
    # schemathesis's own negative strategies draw from the ``random`` module, which Hypothesis
    # warns about; the warning is about schemathesis, not about this test or the catalog.
    pytest.mark.filterwarnings(SCHEMATHESIS_RANDOM_WARNING),
]

EXAMPLES = 15  # per operation and generation mode
ADMIN = Identity("fuzz-admin", roles=("admin",), country="US")
SEED = {
    "kind": "series",
    "name": "Stranger Things",
    "synopsis": "A boy vanishes.",
    "genres": ["Sci-Fi"],
    "maturity": 16,
    "release_year": 2016,
}


@pytest.fixture
def catalog(db_url: str, tmp_path: Path) -> Iterator[ServedMonolith]:
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    services = [registry.SPEC, media.SPEC, CATALOG, gateway.SPEC]
    with served(settings, RuntimeConfig(), services) as monolith:
        client = monolith.client("catalog")
        seeded = monolith.run(
            client.post("/api/catalog/titles", json=SEED, headers=monolith.signed(ADMIN))
        )
        assert seeded.status_code == 201, seeded.text
        yield monolith


def test_no_generated_request_makes_the_catalog_fail(catalog: ServedMonolith) -> None:
    report = fuzz(
        catalog,
        "catalog",
        ("/api/catalog", "/internal/catalog"),
        headers=lambda: catalog.signed(ADMIN),
        examples=EXAMPLES,
    )
    assert len(report.operations) >= 12
    assert report.failures == []
    assert report.requests >= len(report.operations) * EXAMPLES  # every operation was exercised
    assert {200, 404, 422} <= set(report.statuses), report.statuses
