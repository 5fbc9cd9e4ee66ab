"""Passwords and email addresses: argon2id hashing off the event loop, the password policy,
and the one normalization every email address goes through before it is stored or looked up."""

from __future__ import annotations

import asyncio
import os
import re
import unicodedata

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from matinee.services.identity.config import HashingConfig
from matinee.services.identity.errors import InvalidEmail, WeakPassword

PASSWORD_MIN = 8
PASSWORD_MAX = 128
EMAIL_MAX = 254
# One "@", something before it, a dotted domain after it, no spaces: deliberately loose (the
# only real test of an address is mail reaching it), strict enough to catch typing slips.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")


def _printable(text: str) -> bool:
    """No control characters and no lone surrogates (neither can be stored everywhere)."""
    return not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text)


def normalize_email(raw: str) -> str:
    """``raw`` stripped, NFKC-normalized and lower-cased; :class:`InvalidEmail` if it is not
    shaped like an address."""
    email = unicodedata.normalize("NFKC", raw.strip()).lower()
    if not _printable(email) or len(email) > EMAIL_MAX or not _EMAIL.match(email):
        raise InvalidEmail("email: this is not an email address.")
    return email


def normalize_password(raw: str) -> str:
    """The password as it is hashed (NFKC, as NIST SP 800-63B advises, so the same characters
    typed on different keyboards match); :class:`WeakPassword` if it breaks the policy."""
    if any(unicodedata.category(ch) == "Cs" for ch in raw):
        raise WeakPassword("password: it contains characters that cannot be encoded.")
    password = unicodedata.normalize("NFKC", raw)
    if len(password) < PASSWORD_MIN:
        raise WeakPassword(f"password: use at least {PASSWORD_MIN} characters.")
    if len(password) > PASSWORD_MAX:
        raise WeakPassword(f"password: use at most {PASSWORD_MAX} characters.")
    return password


def _encode(password: str) -> bytes:
    # surrogatepass: whatever string arrived, hashing it never fails.
    return password.encode("utf-8", "surrogatepass")


class Hasher:
    """argon2id with the configured cost. Hashing takes tens of milliseconds of CPU, so it runs
    in a worker thread (argon2-cffi releases the GIL) and never blocks the event loop; at most
    ``max_parallel`` at once (one per CPU by default)."""

    def __init__(self, config: HashingConfig) -> None:
        self._ph = PasswordHasher(
            time_cost=config.time_cost,
            memory_cost=config.memory_kib,
            parallelism=config.parallelism,
            type=Type.ID,
        )
        self._dummy: str | None = None
        self._slots = asyncio.Semaphore(config.max_parallel or os.cpu_count() or 1)

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._ph.hash, _encode(password))

    async def verify(self, stored: str, password: str) -> bool:
        """True when ``password`` (NFKC-normalized, as it was when hashed) matches ``stored``."""
        async with self._slots:
            return await asyncio.to_thread(self._verify, stored, password)

    async def warm(self) -> None:
        """Make the hash :meth:`burn` verifies against (at start, so that not even the first
        sign-in for an unknown email takes longer than the others)."""
        if self._dummy is None:
            self._dummy = await self.hash("an account that does not exist")

    async def burn(self, password: str) -> None:
        """Do the work of one verification for nothing, so a sign-in for an unknown email takes
        as long as one with a wrong password and timing does not tell whether it exists."""
        await self.warm()
        assert self._dummy is not None  # noqa: S101 - warm() made it
        await self.verify(self._dummy, password)

    def needs_rehash(self, stored: str) -> bool:
        """True when ``stored`` was made with other parameters than the configured ones."""
        try:
            return self._ph.check_needs_rehash(stored)
        except InvalidHashError:
            return True

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self._ph.verify(stored, _encode(unicodedata.normalize("NFKC", password)))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
