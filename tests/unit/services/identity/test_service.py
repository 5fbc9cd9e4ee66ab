"""Accounts, sign-in, sessions and the login rate limit (FakeClock, SQLite)."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from matinee.services.identity import pruning
from matinee.services.identity.config import HashingConfig, WindowLimit
from matinee.services.identity.errors import (
    InvalidCredentials,
    NotSignedIn,
    SignupRefused,
    TooManyAttempts,
    UnknownSession,
    WeakPassword,
    WrongPassword,
)
from matinee.services.identity.models import Account, Session
from matinee.services.identity.passwords import Hasher
from matinee.services.identity.service import create_admin

from .conftest import BROWSER, PASSWORD, World, config, open_world, run

DAY = 86_400.0


async def signup(w: World, email: str = "ada@example.com", client: str = "10.0.0.1") -> str:
    issued = await w.identity.signup(email, PASSWORD, "gb", client=client, device=BROWSER)
    return issued.token


def test_signup_signs_in_and_the_token_validates(world: World) -> None:
    async def main(w: World) -> None:
        issued = await w.identity.signup(
            " Ada@Example.COM", PASSWORD, "gb", client="10.0.0.1", device=BROWSER
        )
        info = await w.identity.validate(issued.token)
        assert info.account_id == issued.account_id
        assert info.session_id == issued.session_id
        assert (info.roles, info.country, info.profile_id) == (("member",), "GB", None)
        assert info.expires_at.timestamp() == w.clock.time() + 30 * DAY
        account = await w.identity.account(issued.account_id)
        assert account.email == "ada@example.com"
        assert account.password_hash.startswith("$argon2id$")

    run(world, main)


def test_only_a_hash_of_the_token_is_stored(world: World) -> None:
    async def main(w: World) -> None:
        token = await signup(w)
        async with w.db.read() as s:
            rows = (await s.execute(text("SELECT * FROM sessions"))).all()
            stored = (await s.execute(select(Session.token_hash))).scalar_one()
        assert stored == hashlib.sha256(token.encode()).hexdigest()
        assert all(token not in str(value) for row in rows for value in row)

    run(world, main)


def test_signin_with_normalized_email(world: World) -> None:
    async def main(w: World) -> None:
        await signup(w)
        issued = await w.identity.signin(
            "  ADA@example.com ", PASSWORD, client="10.0.0.2", device=BROWSER
        )
        assert (await w.identity.validate(issued.token)).account_id == issued.account_id

    run(world, main)


class CountingHasher(Hasher):
    verifications = 0

    def _verify(self, stored: str, password: str) -> bool:
        CountingHasher.verifications += 1
        return super()._verify(stored, password)


def test_unknown_email_and_wrong_password_fail_alike(world: World) -> None:
    async def main(w: World) -> None:
        await signup(w)
        w.identity.hasher = CountingHasher(config().hashing)
        messages = []
        for email, password in (
            ("ada@example.com", "wrong password"),
            ("bob@example.com", PASSWORD),
        ):
            before = CountingHasher.verifications
            with pytest.raises(InvalidCredentials) as caught:
                await w.identity.signin(email, password, client="10.0.0.9", device=BROWSER)
            assert CountingHasher.verifications == before + 1  # the same hashing work
            messages.append(str(caught.value))
        assert messages[0] == messages[1] == "The email or password is not right."

    run(world, main)


def test_a_taken_email_is_refused_without_saying_so(world: World) -> None:
    async def main(w: World) -> None:
        await signup(w)
        with pytest.raises(SignupRefused) as caught:
            await signup(w, "ADA@example.com ")
        assert "exist" not in str(caught.value).lower()
        assert "taken" not in str(caught.value).lower()

    run(world, main)


def test_the_password_policy_applies_at_signup(world: World) -> None:
    async def main(w: World) -> None:
        with pytest.raises(WeakPassword, match="password"):
            await w.identity.signup("a@example.com", "short", "US", client="c", device=BROWSER)

    run(world, main)


def test_sessions_expire(world: World) -> None:
    async def main(w: World) -> None:
        token = await signup(w)
        w.clock.advance(30 * DAY - 1)
        await w.identity.validate(token)
        w.clock.advance(1)
        with pytest.raises(UnknownSession):
            await w.identity.validate(token)

    run(world, main)


def test_the_session_lifetime_is_configurable(sqlite_url: str) -> None:
    from matinee.clock import FakeClock  # noqa: PLC0415

    world = open_world(sqlite_url, FakeClock(1_800_000_000.0), config(session_ttl_s=60.0))

    async def main(w: World) -> None:
        token = await signup(w)
        w.clock.advance(60)
        with pytest.raises(UnknownSession):
            await w.identity.validate(token)

    run(world, main)


def test_signout_revokes_only_that_session(world: World) -> None:
    async def main(w: World) -> None:
        first = await signup(w)
        second = await w.identity.signin("ada@example.com", PASSWORD, client="c", device=BROWSER)
        info = await w.identity.validate(first)
        await w.identity.signout(info.account_id, info.session_id)
        with pytest.raises(UnknownSession):
            await w.identity.validate(first)
        with pytest.raises(NotSignedIn):
            await w.identity.live_session(info.account_id, info.session_id)
        assert (await w.identity.validate(second.token)).account_id == info.account_id

    run(world, main)


def test_password_change_revokes_every_other_session(world: World) -> None:
    async def main(w: World) -> None:
        mine = await w.identity.validate(await signup(w))
        other = await w.identity.signin("ada@example.com", PASSWORD, client="c", device=BROWSER)
        with pytest.raises(WrongPassword):
            await w.identity.change_password(
                mine.account_id, mine.session_id, "not it at all", "new password 1"
            )
        revoked = await w.identity.change_password(
            mine.account_id, mine.session_id, PASSWORD, "new password 1"
        )
        assert revoked == 1
        with pytest.raises(UnknownSession):
            await w.identity.validate(other.token)
        await w.identity.live_session(mine.account_id, mine.session_id)
        with pytest.raises(InvalidCredentials):
            await w.identity.signin("ada@example.com", PASSWORD, client="c", device=BROWSER)
        await w.identity.signin("ada@example.com", "new password 1", client="c", device=BROWSER)

    run(world, main)


def test_failed_signins_are_limited_per_account(world: World) -> None:
    async def main(w: World) -> None:
        await signup(w)
        for i in range(3):  # the limit: 3 failures per 600 s
            w.clock.advance(10)
            with pytest.raises(InvalidCredentials):
                await w.identity.signin(
                    "ada@example.com", "wrong!!!", client=f"10.1.0.{i}", device=BROWSER
                )
        # Now even the right password waits, from any client.
        with pytest.raises(TooManyAttempts) as caught:
            await w.identity.signin("ada@example.com", PASSWORD, client="10.9.9.9", device=BROWSER)
        assert caught.value.retry_after == pytest.approx(600 - 20)
        assert caught.value.retry_after_header == "580"
        assert "Too many" in str(caught.value)
        w.clock.advance(580)  # the first failure leaves the window
        await w.identity.signin("ada@example.com", PASSWORD, client="10.9.9.9", device=BROWSER)

    run(world, main)


def test_unknown_emails_are_limited_alike(world: World) -> None:
    async def main(w: World) -> None:
        for i in range(3):
            with pytest.raises(InvalidCredentials):
                await w.identity.signin(
                    "nobody@example.com", "x" * 8, client=str(i), device=BROWSER
                )
        with pytest.raises(TooManyAttempts):
            await w.identity.signin("nobody@example.com", "x" * 8, client="9", device=BROWSER)

    run(world, main)


def test_a_successful_signin_clears_the_accounts_failures(world: World) -> None:
    async def main(w: World) -> None:
        await signup(w)
        for _ in range(2):
            with pytest.raises(InvalidCredentials):
                await w.identity.signin("ada@example.com", "wrong!!!", client="a", device=BROWSER)
        await w.identity.signin("ada@example.com", PASSWORD, client="a", device=BROWSER)
        for _ in range(2):
            with pytest.raises(InvalidCredentials):
                await w.identity.signin("ada@example.com", "wrong!!!", client="b", device=BROWSER)
        await w.identity.signin("ada@example.com", PASSWORD, client="b", device=BROWSER)

    run(world, main)


def test_failed_signins_are_limited_per_client(world: World) -> None:
    async def main(w: World) -> None:
        for i in range(5):  # 5 failures per client per 600 s, each on another email
            with pytest.raises(InvalidCredentials):
                await w.identity.signin(
                    f"user{i}@example.com", "guess123", client="203.0.113.7", device=BROWSER
                )
        with pytest.raises(TooManyAttempts):
            await w.identity.signin(
                "user9@example.com", "guess123", client="203.0.113.7", device=BROWSER
            )
        with pytest.raises(InvalidCredentials):  # another client is not held back
            await w.identity.signin(
                "user9@example.com", "guess123", client="203.0.113.8", device=BROWSER
            )
        w.clock.advance(600)
        with pytest.raises(InvalidCredentials):
            await w.identity.signin(
                "user9@example.com", "guess123", client="203.0.113.7", device=BROWSER
            )

    run(world, main)


def test_the_window_slides(world: World) -> None:
    async def main(w: World) -> None:
        email = "slide@example.com"
        for step in (0, 200, 200):  # failures at t, t+200, t+400
            w.clock.advance(step)
            with pytest.raises(InvalidCredentials):
                await w.identity.signin(email, "guess123", client=email, device=BROWSER)
        w.clock.advance(199)  # t+599: all three are still inside the 600 s window
        with pytest.raises(TooManyAttempts) as caught:
            await w.identity.signin(email, "guess123", client=email, device=BROWSER)
        assert caught.value.retry_after == pytest.approx(1)
        w.clock.advance(1)  # t+600: the first one left; exactly one more attempt fits
        with pytest.raises(InvalidCredentials):
            await w.identity.signin(email, "guess123", client=email, device=BROWSER)
        with pytest.raises(TooManyAttempts) as caught:
            await w.identity.signin(email, "guess123", client=email, device=BROWSER)
        assert caught.value.retry_after == pytest.approx(200)

    run(world, main)


def test_signups_are_limited_per_client(world: World) -> None:
    async def main(w: World) -> None:
        for i in range(4):
            await signup(w, f"user{i}@example.com", client="198.51.100.1")
        with pytest.raises(TooManyAttempts):
            await signup(w, "user9@example.com", client="198.51.100.1")
        await signup(w, "user9@example.com", client="198.51.100.2")

    run(world, main)


def test_passwords_are_rehashed_when_the_cost_changes(sqlite_url: str) -> None:
    from matinee.clock import FakeClock  # noqa: PLC0415

    clock = FakeClock(1_800_000_000.0)
    first = open_world(sqlite_url, clock, config())

    async def create(w: World) -> None:
        await signup(w)

    run(first, create)
    stronger = HashingConfig(memory_kib=256, time_cost=2, parallelism=1)
    second = open_world(sqlite_url, clock, config(hashing=stronger))

    async def signin_again(w: World) -> None:
        await w.identity.signin("ada@example.com", PASSWORD, client="c", device=BROWSER)
        async with w.db.read() as s:
            stored = (await s.execute(select(Account.password_hash))).scalar_one()
        assert "$m=256,t=2,p=1$" in stored
        await w.identity.signin("ada@example.com", PASSWORD, client="c", device=BROWSER)

    run(second, signin_again)


def test_create_admin(world: World) -> None:
    async def main(w: World) -> None:
        admin = await create_admin(
            w.db, w.clock, "Ops@Example.com", "operator password", config=config()
        )
        assert admin.roles == ["member", "admin"]
        assert admin.email == "ops@example.com"
        with pytest.raises(SignupRefused):
            await create_admin(w.db, w.clock, "ops@example.com", "another one", config=config())
        await signup(w, "member@example.com")
        promoted = await create_admin(
            w.db, w.clock, "member@example.com", "ignored password", config=config(), exist_ok=True
        )
        assert promoted.roles == ["member", "admin"]
        issued = await w.identity.signin("member@example.com", PASSWORD, client="c", device=BROWSER)
        assert (await w.identity.validate(issued.token)).roles == ("member", "admin")

    run(world, main)


def test_prune_deletes_long_ended_sessions_and_stale_attempts(world: World) -> None:
    async def main(w: World) -> None:
        await signup(w)
        with pytest.raises(InvalidCredentials):
            await w.identity.signin("ada@example.com", "wrong!!!", client="c", device=BROWSER)
        assert await w.identity.prune() == 0
        w.clock.advance(38 * DAY)  # expired 8 days ago
        assert await w.identity.prune() == 1 + 1 + 1 + 1  # session, 2 failures, 1 sign-up
        async with w.db.read() as s:
            assert (await s.execute(select(Session))).first() is None
        assert datetime.fromtimestamp(w.clock.time(), UTC) == w.identity.now()

    run(world, main)


def test_limits_validate_their_numbers() -> None:
    with pytest.raises(ValueError, match="attempt"):
        WindowLimit(0, 10.0)


def test_the_pruning_lifespan_prunes_until_the_instance_stops(world: World) -> None:
    async def main(w: World) -> None:
        await signup(w)
        start = w.clock.time()
        async with pruning(w.identity, DAY)():
            for _ in range(2000):  # FakeClock.sleep advances a day per pass at once
                await asyncio.sleep(0.001)
                async with w.db.read() as s:
                    if (await s.execute(select(Session))).first() is None:
                        break
        async with w.db.read() as s:
            assert (await s.execute(select(Session))).first() is None
        assert w.clock.time() - start >= 37 * DAY
        stopped = w.clock.time()
        await asyncio.sleep(0.01)
        assert w.clock.time() == stopped  # the loop ended with the lifespan

    run(world, main)
