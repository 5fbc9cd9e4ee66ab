"""Zone replicas: writes go to every zone, reads to the caller's zone first, then the others.

A write starts in every zone at once and returns when the caller's own zone has answered and
the latch policy's number of zones acknowledged (none: at once; the rest finish in the
background, and their failures are counted and logged once). A read tries the zones in order,
the caller's first, and moves on after a miss or an error (a counted fallback). Nothing is
raised unless every zone failed: then the call raises CacheUnavailable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from matinee.cache.config import Latch
from matinee.cache.errors import CacheError, CacheUnavailable
from matinee.cache.meters import CacheMeters
from matinee.cache.zones import Payload, Zone
from matinee.clock import Clock

CLOSE_GRACE_SECONDS = 2.0


class _Latch:
    """Counts zone answers to one write and wakes the caller when it may return."""

    __slots__ = ("acks", "answered", "finished", "future", "local_done", "needed", "total")

    def __init__(self, needed: int, total: int) -> None:
        self.needed = needed
        self.total = total
        self.acks = 0
        self.answered = 0
        self.finished = 0
        self.local_done = False
        self.future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def callback(self, *, local: bool) -> Callable[[asyncio.Task[bool | None]], None]:
        def done(task: asyncio.Task[bool | None]) -> None:
            failed = task.cancelled() or task.exception() is not None
            self.zone_done(None if failed else task.result(), local)

        return done

    def zone_done(self, ack: bool | None, local: bool) -> None:
        self.finished += 1
        if ack is not None:
            self.answered += 1
            self.acks += ack
        if local:
            self.local_done = True
        met = self.acks >= self.needed and self.local_done
        if not self.future.done() and (met or self.finished == self.total):
            self.future.set_result(None)


class Replicas:
    """The zones of one cluster, in read order (the caller's zone first)."""

    def __init__(
        self, zones: Sequence[Zone], *, local: str | None, latch: Latch, clock: Clock
    ) -> None:
        if not zones:
            raise ValueError("a cache needs at least one zone")
        ordered = sorted(zones, key=lambda zone: zone.name != local)  # stable: URL order
        self.zones: tuple[Zone, ...] = tuple(ordered)
        self.local = self.zones[0].name
        self.latch = latch
        self.clock = clock
        self._background: set[asyncio.Task[bool | None]] = set()
        self._needed = latch.needed(len(self.zones))

    # --- reads ---------------------------------------------------------------------------

    async def get(self, key: bytes, m: CacheMeters) -> bytes | None:
        errors = 0
        clock = self.clock
        for zone in self.zones:
            start = clock.monotonic()
            try:
                value = await zone.read(key, m.broken[zone.name])
            except CacheError as exc:
                m.get[(zone.name, "error")].record(clock.monotonic() - start)
                errors += 1
                if zone is not self.zones[-1]:
                    m.fallback(zone.name, "error", f"failed ({exc})")
                continue
            if value is not None:
                m.get[(zone.name, "hit")].record(clock.monotonic() - start)
                m.hits.inc()
                return value
            m.get[(zone.name, "miss")].record(clock.monotonic() - start)
            if zone is not self.zones[-1]:
                m.fallback(zone.name, "miss", "missed")
        self._missed(errors, m)
        return None

    def _missed(self, errors: int, m: CacheMeters) -> None:
        if errors == len(self.zones):
            raise CacheUnavailable(f"no zone of cache {m.cache} could answer")
        m.misses.inc()

    async def get_many(self, keys: Sequence[bytes], m: CacheMeters) -> dict[bytes, bytes]:
        found: dict[bytes, bytes] = {}
        wanted = list(dict.fromkeys(keys))
        errors = 0
        clock = self.clock
        for zone in self.zones:
            if not wanted:
                break
            start = clock.monotonic()
            try:
                got = await zone.read_many(wanted, m.broken[zone.name])
            except CacheError as exc:
                m.get[(zone.name, "error")].record(clock.monotonic() - start)
                errors += 1
                if zone is not self.zones[-1]:
                    m.fallback(zone.name, "error", f"failed ({exc})")
                continue
            elapsed = clock.monotonic() - start
            found.update(got)
            for _ in got:
                m.get[(zone.name, "hit")].record(elapsed)
            wanted = [key for key in wanted if key not in got]
            for _ in wanted:
                m.get[(zone.name, "miss")].record(elapsed)
                if zone is not self.zones[-1]:
                    m.fallback(zone.name, "miss", "missed")
        if errors == len(self.zones):
            raise CacheUnavailable(f"no zone of cache {m.cache} could answer")
        m.hits.inc(len(found))
        m.misses.inc(len(wanted))
        return found

    # --- writes --------------------------------------------------------------------------

    async def _in_zone(
        self, zone: Zone, op: str, run: Callable[[Zone], Awaitable[bool]], m: CacheMeters
    ) -> bool | None:
        """One zone's part of a write: its acknowledgement, or None when the zone failed."""
        start = self.clock.monotonic()
        try:
            ack = await run(zone)
        except CacheError as exc:
            m.write(zone.name, op, ok=False).record(self.clock.monotonic() - start)
            m.log_once(
                ("write", zone.name, op),
                "zone %s failed a %s (%s); counted in cache.write{result=error}",
                zone.name,
                op,
                exc,
            )
            return None
        m.write(zone.name, op, ok=True).record(self.clock.monotonic() - start)
        return ack

    async def _fan_out(
        self, op: str, run: Callable[[Zone], Awaitable[bool]], needed: int, m: CacheMeters
    ) -> bool:
        """Run ``run`` in every zone; True when ``needed`` zones acknowledged (see module doc)."""
        if len(self.zones) == 1 and needed:
            ack = await self._in_zone(self.zones[0], op, run, m)
            if ack is None:
                raise CacheUnavailable(f"no zone of cache {m.cache} could answer")
            return self._judge(op, ack, m)
        latch = _Latch(needed, len(self.zones))
        for i, zone in enumerate(self.zones):
            task = asyncio.get_running_loop().create_task(self._in_zone(zone, op, run, m))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            task.add_done_callback(latch.callback(local=i == 0))
        if needed == 0:
            return True
        await asyncio.shield(latch.future)
        if latch.answered == 0:
            raise CacheUnavailable(f"no zone of cache {m.cache} could answer")
        return self._judge(op, latch.acks >= needed, m)

    def _judge(self, op: str, met: bool, m: CacheMeters) -> bool:
        if not met and op != "touch":  # a touch that found nothing is an answer, not a fault
            m.count("cache.latch.unmet", op=op)
        return met

    async def set(self, key: bytes, payload: Payload, ttl: float | None, m: CacheMeters) -> bool:
        return await self._fan_out("set", lambda z: z.set(key, payload, ttl), self._needed, m)

    async def delete(self, key: bytes, m: CacheMeters) -> bool:
        return await self._fan_out("delete", lambda z: z.delete(key), self._needed, m)

    async def touch(self, key: bytes, ttl: float | None, m: CacheMeters) -> bool:
        needed = max(1, self._needed)
        return await self._fan_out("touch", lambda z: z.touch(key, ttl), needed, m)

    async def add(self, key: bytes, payload: Payload, ttl: float | None, m: CacheMeters) -> bool:
        """Store only where absent, waiting for every zone (see Cache.add for the guarantees).

        When some zones stored it and others already held the key, the holders win: their
        value is copied over ours and the call returns False.
        """

        async def add(zone: Zone) -> bool:
            return await zone.add(key, payload, ttl)

        answers = await asyncio.gather(*(self._in_zone(z, "add", add, m) for z in self.zones))
        if all(answer is None for answer in answers):
            raise CacheUnavailable(f"no zone of cache {m.cache} could answer")
        stored = [zone for zone, answer in zip(self.zones, answers, strict=True) if answer]
        holders = [z for z, answer in zip(self.zones, answers, strict=True) if answer is False]
        if not holders:
            return True
        if stored:
            m.count("cache.add.conflicts")
            await self._repair(key, holders[0], stored, ttl, m)
        return False

    async def _repair(
        self, key: bytes, holder: Zone, stored: list[Zone], ttl: float | None, m: CacheMeters
    ) -> None:
        """Copy the holder zone's value over the zones where our add went in."""
        try:
            value = await holder.read(key, m.broken[holder.name])
        except CacheError:
            value = None
        payload = None if value is None else Payload.of(key, value)

        async def fix(zone: Zone) -> bool:
            if payload is None:
                return await zone.delete(key)
            return await zone.set(key, payload, ttl)

        for zone in stored:
            await self._in_zone(zone, "repair", fix, m)

    # --- lifecycle -----------------------------------------------------------------------

    async def flush(self) -> None:
        """Forget everything in every zone (tests and operators)."""
        await asyncio.gather(*(zone.flush() for zone in self.zones))

    async def drain(self, grace: float = CLOSE_GRACE_SECONDS) -> None:
        """Wait (up to ``grace`` seconds) for background writes to finish."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=grace)

    async def close(self) -> None:
        await self.drain()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*(zone.close() for zone in self.zones))
