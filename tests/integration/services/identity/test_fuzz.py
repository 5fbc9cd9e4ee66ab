"""An API fuzz run: schemathesis generates valid and invalid requests for every operation in the
identity service's OpenAPI document (public and internal), and none may make it answer 5xx.

Identity runs in a monolith (registry, identity, gateway) on an event loop of its own in a
background thread (``matinee.testing.fuzz``), with cheap password hashing. Every generated
request goes straight to the identity instance, signed as a real member whose session is live
and has a profile selected, so the routes past the session check are exercised. A generated
sign-out (or anything else that ends that session) is followed by a fresh sign-in before the
next request; the member's password appears in no example, so no generated request changes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from matinee.gateway.auth import Identity
from matinee.resilience.dependency import DependencyConfig
from matinee.runtime.context import RuntimeConfig
from matinee.services import gateway, registry
from matinee.services.identity import make_spec
from matinee.services.identity.config import HashingConfig, IdentityConfig
from matinee.settings import Settings
from matinee.testing.fuzz import SCHEMATHESIS_RANDOM_WARNING, ServedMonolith, fuzz, served

pytestmark = [
    pytest.mark.slow,  # some hundreds of requests
    # schemathesis's own negative strategies draw from the ``random`` module, which Hypothesis
    # warns about; the warning is about schemathesis, not about this test or identity.
    pytest.mark.filterwarnings(SCHEMATHESIS_RANDOM_WARNING),
]

EXAMPLES = 15  # per operation and generation mode
EMAIL = "fuzz.member@matinee.test"
PASSWORD = "not in any example of the schema"
CHEAP = IdentityConfig(
    hashing=HashingConfig(memory_kib=64, time_cost=1, parallelism=1), prune_interval_s=0
)


@dataclass
class Member:
    """The signed-in member every request is signed as; signs in again when its session ended."""

    monolith: ServedMonolith
    account_id: str = ""
    profile_id: str = ""
    token: str = ""
    identity: Identity | None = None
    signins: int = 0

    def _post(self, path: str, body: object, headers: dict[str, str] | None = None) -> object:
        client = self.monolith.client("identity")
        response = self.monolith.run(client.post(path, json=body, headers=headers))
        client.cookies.clear()
        assert response.status_code in (200, 201), f"{path}: {response.text}"
        return response.json()

    def _validate(self, token: str) -> Identity | None:
        client = self.monolith.client("identity")
        answer = self.monolith.run(
            client.post("/internal/identity/sessions/validate", json={"token": token})
        )
        if answer.status_code == 404:
            return None
        assert answer.status_code == 200, answer.text
        info = answer.json()
        return Identity(
            info["account_id"],
            profile=info["profile_id"],
            roles=tuple(info["roles"]),
            session=info["session_id"],
            expires=float(info["expires_at"]),
            country=info["country"],
        )

    def sign_up(self) -> None:
        body = {"email": EMAIL, "password": PASSWORD, "country": "US"}
        session = self._post("/api/identity/signup", body)
        assert isinstance(session, dict)
        self.account_id, self.token = session["account_id"], session["token"]
        self.identity = self._validate(self.token)
        assert self.identity is not None
        profile = {"name": "Fuzz", "avatar": "owl", "language": "en", "maturity_level": 18}
        created = self._post("/api/identity/profiles", profile, self.monolith.signed(self.identity))
        assert isinstance(created, dict)
        self.profile_id = created["id"]
        self._select()

    def _select(self) -> None:
        assert self.identity is not None
        path = f"/api/identity/profiles/{self.profile_id}/select"
        session = self._post(path, None, self.monolith.signed(self.identity))
        assert isinstance(session, dict)
        self.token = session["token"]
        self.identity = self._validate(self.token)
        assert self.identity is not None

    def headers(self) -> dict[str, str]:
        """Signed headers of a live session with the member's profile selected."""
        self.identity = self._validate(self.token)
        if self.identity is None or self.identity.profile != self.profile_id:
            session = self._post("/api/identity/signin", {"email": EMAIL, "password": PASSWORD})
            assert isinstance(session, dict)
            self.token = session["token"]
            self.identity = self._validate(self.token)
            self.signins += 1
            self._select()
        assert self.identity is not None
        return self.monolith.signed(self.identity)


@pytest.fixture
def identity(db_url: str, tmp_path: Path) -> Iterator[ServedMonolith]:
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    slack = DependencyConfig(timeout_s=10.0)  # a busy shared machine is slow, not down
    config = RuntimeConfig(dependencies={"identity": slack})
    with served(settings, config, [registry.SPEC, make_spec(CHEAP), gateway.SPEC]) as monolith:
        yield monolith


@pytest.mark.parametrize("db_factory", ["sqlite"], indirect=True)
def test_no_generated_request_makes_identity_fail(identity: ServedMonolith) -> None:
    member = Member(identity)
    member.sign_up()
    report = fuzz(
        identity,
        "identity",
        ("/api/identity", "/internal/identity"),
        headers=member.headers,
        examples=EXAMPLES,
    )
    assert report.failures == []
    assert len(report.operations) >= 15, report.operations
    assert report.requests >= len(report.operations) * EXAMPLES  # every operation was exercised
    # Signed-in routes answered (200, 201, 204) as well as refusing bad input (401, 404, 422).
    assert {200, 201, 204, 401, 404, 422} <= set(report.statuses), report.statuses
    assert member.signins >= 1  # the generated sign-outs ended sessions, and it went on
