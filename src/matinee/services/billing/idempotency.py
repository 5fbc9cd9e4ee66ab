"""Idempotency-Key records: a member's request runs once, and every retry gets its answer.

A request claims ``(account, key)`` by inserting a row (unique), which gives it a lease of
``idempotency_lease`` seconds. Another request with the same key then

* gets the stored answer if the first one finished (a success or a final error such as a
  decline), with ``replayed=True``;
* waits while the first one holds its lease: behind an in-process lock when both run in this
  process, by polling the row when they run in different instances (up to
  ``idempotency_wait`` seconds, then 409);
* takes over when the first one gave up without a final answer (the payment provider did not
  answer) or died (its lease ran out), and carries on from what the first one recorded.

The same key with a different request (another plan or card) is refused with 422.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from matinee.clock import Clock
from matinee.db.aio import Database
from matinee.services.billing import store
from matinee.services.billing.config import BillingConfig
from matinee.services.billing.errors import (
    FINAL_ERRORS,
    BillingError,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    status_of,
)
from matinee.services.billing.models import IdempotencyRecord
from matinee.services.billing.periods import now_utc

POLL_FIRST_S = 0.02
POLL_MAX_S = 0.5


@dataclass(frozen=True)
class Answer:
    """A request's final answer: an HTTP status and its JSON body."""

    status: int
    body: dict[str, Any]
    replayed: bool = False

    def raise_if_error(self) -> None:
        """Raise the stored error again, so a replayed failure renders like the first."""
        if self.status < 400:
            return
        kind = FINAL_ERRORS.get(str(self.body.get("error")))
        message = str(self.body.get("message", "The first request with this key failed."))
        if kind is None:
            raise BillingError(message)
        raise kind(message)


@dataclass
class Claim:
    """This request's hold on a key: what an earlier attempt recorded, or its final answer."""

    record_id: int
    subscription_id: str | None = None
    answer: Answer | None = None
    finished: bool = field(default=False, repr=False)


def fingerprint(*parts: object) -> str:
    """A digest of what makes two requests the same (never a card number)."""
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()


class IdempotencyKeys:
    """Claims, waits for and finishes Idempotency-Key records."""

    def __init__(self, db: Database, clock: Clock, config: BillingConfig) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self._local: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, account_id: str, key: str, digest: str) -> AsyncIterator[Claim]:
        """Claim the key (waiting for a concurrent holder); on leaving without
        :meth:`finish`, release it so a retry can take over at once."""
        name = (account_id, key)
        lock, users = self._local.get(name) or (asyncio.Lock(), 0)
        self._local[name] = (lock, users + 1)
        try:
            async with lock:
                claim = await self._claim_waiting(account_id, key, digest)
                try:
                    yield claim
                finally:
                    if claim.answer is None and not claim.finished:
                        async with self.db.write() as s:
                            await store.release_idempotency(s, claim.record_id, self._now())
        finally:
            lock, users = self._local[name]
            if users <= 1:
                del self._local[name]
            else:
                self._local[name] = (lock, users - 1)

    async def attach(self, s: AsyncSession, claim: Claim, subscription_id: str) -> None:
        """Record (in the caller's transaction) what this request created, for a takeover."""
        record = await s.get(IdempotencyRecord, claim.record_id)
        if record is not None:
            record.subscription_id = subscription_id
        claim.subscription_id = subscription_id

    async def finish(self, claim: Claim, answer: Answer) -> None:
        """Store the final answer; every later request with the key gets it."""
        async with self.db.write() as s:
            record = await s.get(IdempotencyRecord, claim.record_id)
            if record is not None:
                record.response_status = answer.status
                record.response_body = answer.body
                record.locked_until = None
                record.updated_at = self._now()
        claim.finished = True

    async def finish_error(self, claim: Claim, exc: BillingError) -> None:
        code = getattr(exc, "code", type(exc).__name__)
        await self.finish(claim, Answer(status_of(exc), {"error": code, "message": str(exc)}))

    def _now(self) -> datetime:
        return now_utc(self.clock)

    async def _claim_waiting(self, account_id: str, key: str, digest: str) -> Claim:
        delay, waited = POLL_FIRST_S, 0.0
        while True:
            claim = await self._claim(account_id, key, digest)
            if claim is not None:
                return claim
            if waited >= self.config.idempotency_wait:
                raise IdempotencyKeyInUse(
                    "A request with this Idempotency-Key is still running; try again shortly."
                )
            await asyncio.sleep(delay)  # real time: another instance is working, not our clock
            waited += delay
            delay = min(delay * 2, POLL_MAX_S)

    async def _claim(self, account_id: str, key: str, digest: str) -> Claim | None:
        """A claim, or None while another request holds the key."""
        now = self._now()
        lease = now + timedelta(seconds=self.config.idempotency_lease)
        try:
            async with self.db.write() as s:
                record = IdempotencyRecord(
                    account_id=account_id,
                    key=key,
                    fingerprint=digest,
                    locked_until=lease,
                    created_at=now,
                    updated_at=now,
                )
                s.add(record)
                await s.flush()
                return Claim(record.id)
        except IntegrityError:
            pass  # the key was used before: look at what it holds
        async with self.db.write() as s:
            found = await store.idempotency(s, account_id, key, lock=True)
            if found is None:  # pragma: no cover - records are never deleted
                raise IdempotencyKeyInUse("The Idempotency-Key could not be claimed; try again.")
            if found.fingerprint != digest:
                raise IdempotencyKeyReused(
                    "This Idempotency-Key was already used for a different request; "
                    "use a new key for a new request."
                )
            if found.response_status is not None:
                body = dict(found.response_body or {})
                return Claim(
                    found.id, found.subscription_id, Answer(found.response_status, body, True)
                )
            if found.locked_until is not None and found.locked_until > now:
                return None
            found.locked_until = lease
            found.updated_at = now
            return Claim(found.id, found.subscription_id)
