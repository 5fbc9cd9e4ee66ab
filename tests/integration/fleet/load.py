"""Load generators for the proof tests (aiohttp over real sockets).

* :func:`closed_loop` - N workers, each sending its next request when the last one answered
  (steady load that adapts to the server's speed);
* :func:`open_loop` - requests started on a fixed schedule whatever the answers (a real
  overload: arrivals do not slow down when the server does).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import aiohttp

REQUEST_TIMEOUT = 10.0


@dataclass
class Tally:
    """What came back: statuses, transport errors, and whether 503s said when to retry."""

    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    retry_after_missing: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.statuses.values()) + sum(self.errors.values())

    @property
    def ok(self) -> int:
        return self.statuses[200]

    @property
    def success_rate(self) -> float:
        return self.ok / self.total if self.total else 0.0

    def share(self, status: int) -> float:
        return self.statuses[status] / self.total if self.total else 0.0

    def describe(self) -> str:
        return (
            f"{self.total} requests, {self.ok} ok ({100 * self.success_rate:.3f}%), "
            f"statuses {dict(self.statuses)}, errors {dict(self.errors)}, "
            f"first failures {self.failures[:5]}"
        )

    async def send(self, session: aiohttp.ClientSession, url: str) -> None:
        try:
            async with session.get(url) as resp:
                body = await resp.read()
                self.statuses[resp.status] += 1
                if resp.status == 503 and resp.headers.get("retry-after") is None:
                    self.retry_after_missing += 1
                if resp.status != 200 and len(self.failures) < 20:
                    self.failures.append(f"{resp.status} {url}: {body[:200]!r}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.errors[type(exc).__name__] += 1
            if len(self.failures) < 20:
                self.failures.append(f"{type(exc).__name__} {url}: {exc}")


def _session() -> aiohttp.ClientSession:
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    return aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0))


async def closed_loop(urls: Sequence[str], concurrency: int, stop: asyncio.Event) -> Tally:
    """``concurrency`` workers (spread over ``urls``) sending back to back until ``stop``."""
    tally = Tally()

    async def worker(url: str) -> None:
        while not stop.is_set():
            await tally.send(session, url)

    async with _session() as session:
        await asyncio.gather(*(worker(urls[i % len(urls)]) for i in range(concurrency)))
    return tally


async def open_loop(rates: Mapping[str, float], seconds: float) -> dict[str, Tally]:
    """``rates[url]`` requests per second to each url for ``seconds``, evenly spaced."""
    tallies = {url: Tally() for url in rates}
    tasks: set[asyncio.Task[None]] = set()

    async def schedule(url: str, rate: float) -> None:
        start = time.monotonic()
        for n in range(round(rate * seconds)):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(tallies[url].send(session, url))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async with _session() as session:
        await asyncio.gather(*(schedule(url, rate) for url, rate in rates.items()))
        while tasks:
            await asyncio.gather(*list(tasks))
    return tallies


@dataclass(frozen=True)
class Reply:
    status: int
    fallback: str | None
    body: bytes


async def burst(url: str, n: int) -> list[Reply]:
    """``n`` requests to ``url`` at the same moment (one connection each)."""

    async def one(session: aiohttp.ClientSession) -> Reply:
        async with session.get(url) as resp:
            body = await resp.read()
            return Reply(resp.status, resp.headers.get("x-gateway-fallback"), body)

    async with _session() as session:
        return await asyncio.gather(*(one(session) for _ in range(n)))
