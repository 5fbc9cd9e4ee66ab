"""Email normalization, the password policy and argon2id hashing."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from matinee.services.identity.config import HashingConfig
from matinee.services.identity.countries import normalize_country
from matinee.services.identity.errors import InvalidCountry, InvalidEmail, WeakPassword
from matinee.services.identity.passwords import Hasher, normalize_email, normalize_password

from .conftest import CHEAP


def wide(text: str) -> str:
    """``text`` in fullwidth forms (what some keyboards type), which NFKC folds back."""
    return "".join(chr(ord(ch) + 0xFEE0) if ch.isalnum() else ch for ch in text)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ada@Example.COM ", "ada@example.com"),
        (wide("ADA@example.com"), "ada@example.com"),
        ("ada+films@mail.example.co.uk", "ada+films@mail.example.co.uk"),
    ],
)
def test_emails_are_stripped_folded_and_lowercased(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "ada", "ada@", "@example.com", "ada@example", "a b@example.com", "ada@\x00.com"]
)
def test_malformed_emails_are_refused_naming_the_field(raw: str) -> None:
    with pytest.raises(InvalidEmail, match=r"^email: "):
        normalize_email(raw)


def test_the_password_policy_names_the_field() -> None:
    with pytest.raises(WeakPassword, match=r"^password: use at least 8"):
        normalize_password("short12")
    with pytest.raises(WeakPassword, match=r"^password: use at most 128"):
        normalize_password("x" * 129)
    assert normalize_password("exactly8") == "exactly8"
    assert normalize_password(wide("password")) == "password"


def test_countries_are_iso_alpha_2() -> None:
    assert normalize_country(" gb ") == "GB"
    for bad in ("UK", "USA", "", "ZZ"):
        with pytest.raises(InvalidCountry, match=r"^country: "):
            normalize_country(bad)


def test_default_hashing_is_owasp_argon2id() -> None:
    async def main() -> None:
        hashed = await Hasher(HashingConfig()).hash("correct horse battery")
        assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")

    asyncio.run(main())


def test_verify_and_rehash() -> None:
    async def main() -> None:
        hasher = Hasher(CHEAP)
        hashed = await hasher.hash(normalize_password(wide("password12")))
        assert await hasher.verify(hashed, "password12")  # NFKC on both sides
        assert not await hasher.verify(hashed, "password13")
        assert not await hasher.verify("not a hash", "password12")
        assert not hasher.needs_rehash(hashed)
        assert Hasher(HashingConfig(memory_kib=128, time_cost=1)).needs_rehash(hashed)
        assert hasher.needs_rehash("not a hash")
        # A lone surrogate (valid JSON) neither crashes hashing nor verifying.
        odd = await hasher.hash("pass\ud800word")
        assert await hasher.verify(odd, "pass\ud800word")

    asyncio.run(main())


def test_hashing_does_not_block_the_event_loop() -> None:
    async def main() -> None:
        hasher = Hasher(HashingConfig())  # the real cost: tens of milliseconds
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.001)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        start = time.perf_counter()
        await hasher.hash("correct horse battery")
        elapsed = time.perf_counter() - start
        done.set()
        await task
        assert elapsed > 0.005
        assert ticks >= 3, f"the loop ticked {ticks} times in {elapsed * 1000:.0f} ms"

    asyncio.run(main())


def test_hashes_run_at_most_max_parallel_at_once() -> None:
    lock = threading.Lock()

    class Watched(Hasher):
        running = 0
        most = 0

        def _verify(self, stored: str, password: str) -> bool:
            with lock:
                Watched.running += 1
                Watched.most = max(Watched.most, Watched.running)
            try:
                time.sleep(0.01)  # long enough for the others to pile up if they could
                return super()._verify(stored, password)
            finally:
                with lock:
                    Watched.running -= 1

    async def main() -> None:
        hasher = Watched(HashingConfig(memory_kib=64, time_cost=1, max_parallel=2))
        stored = await hasher.hash("correct horse battery")
        results = await asyncio.gather(*(hasher.verify(stored, "wrong") for _ in range(8)))
        assert results == [False] * 8
        assert Watched.most == 2

    asyncio.run(main())
