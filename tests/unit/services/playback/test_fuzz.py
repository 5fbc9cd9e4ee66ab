"""An API fuzz run: schemathesis generates valid and invalid requests for every playback
operation and for the media service's signed route (``/t/{token}/{path}``), and none may make
them answer 5xx.

The monolith of ``test_api`` (the stand-ins for identity, billing and catalog, the real media,
playback and gateway) runs on an event loop of its own in a background thread
(``matinee.testing.fuzz``); requests go straight to each instance, signed as a member with a
profile, so the checks past the session are exercised too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from schemathesis import GenerationMode

from matinee.gateway.auth import Identity
from matinee.platform import Platform
from matinee.settings import Settings
from matinee.testing.fuzz import SCHEMATHESIS_RANDOM_WARNING, ServedMonolith, fuzz, served

from . import fakes

pytestmark = [
    pytest.mark.slow,  # some hundreds of requests
    # schemathesis's own negative strategies draw from the ``random`` module, which Hypothesis
    # warns about; the warning is about schemathesis, not about this test or playback.
    pytest.mark.filterwarnings(SCHEMATHESIS_RANDOM_WARNING),
]

EXAMPLES = 25  # per operation and generation mode
MEMBER = Identity("acct", profile="p-adult", session="s-adult", country="US")


@pytest.fixture
def monolith(tmp_path: Path) -> Iterator[ServedMonolith]:
    platform = Platform(Settings(data_dir=tmp_path / "data"))
    fakes.publish_asset(platform)
    services = fakes.services(fakes.household())
    with served(platform.settings, fakes.runtime_config(), services, platform=platform) as m:
        yield m


def test_no_generated_request_makes_playback_or_signed_media_fail(
    monolith: ServedMonolith,
) -> None:
    def member() -> dict[str, str]:
        return monolith.signed(MEMBER)

    report = fuzz(monolith, "playback", ("/api/playback",), headers=member, examples=EXAMPLES)
    assert report.failures == []
    assert len(report.operations) == 4
    assert report.requests >= len(report.operations) * EXAMPLES  # every operation was exercised
    assert {200, 404, 422} <= set(report.statuses), report.statuses
    # Any string is a valid token or path, so there are no invalid requests to generate there.
    report = fuzz(
        monolith,
        "media",
        ("/t/",),
        headers=member,
        modes=(GenerationMode.POSITIVE,),
        examples=EXAMPLES,
    )
    assert report.failures == []
    assert len(report.operations) == 3  # GET, HEAD and the CORS preflight (OPTIONS)
    assert report.requests >= len(report.operations) * EXAMPLES
    assert set(report.statuses) <= {204, 400, 403, 404}, report.statuses  # 204: preflights
