"""Filling the edge: one upstream fetch per object however many ask, and proactive fill.

:class:`Filler` fetches a missing object from a peer of the same cluster (which answers only
from what it holds: peers never fill for peers, so there are no loops), then from the origin.
Concurrent misses for one key share one fetch (single flight): the first starts it, the others
wait, and all are answered once the file has landed. The fetch runs on its own, so a client
that gives up does not cancel it for the others. The body is written to a temp file and
renamed into place only when it is whole (its length checked against ``Content-Length``); a
cut or failed transfer leaves nothing behind.

:class:`FillQueue` runs ``POST /edge/fill``: keys pushed ahead of demand, a few at a time,
pinned until the fill window's end when asked, with progress for ``GET /edge/fill``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from matinee.cdn.edge.config import EdgeConfig
from matinee.cdn.edge.errors import EdgeError, NotHeld, ObjectMissing, UpstreamUnavailable
from matinee.cdn.edge.report import EdgeStats
from matinee.cdn.edge.store import DiskStore, Entry, asset_prefix
from matinee.cdn.edge.upstreams import Upstreams
from matinee.clock import Clock
from matinee.delivery.http import parse_http_date
from matinee.delivery.tokens import UrlSigner

log = logging.getLogger(__name__)

PEER_PATH = "/internal/edge/objects/"
CHUNK = 256 * 1024
PEER_TOKEN_SECONDS = 60.0


class UpstreamFailed(EdgeError):
    """One upstream did not deliver the object whole (refused, error status, cut short)."""


def _consume(future: asyncio.Future[Entry]) -> None:
    """Mark a flight's error as seen: every waiter may have gone."""
    if not future.cancelled():
        future.exception()


class Filler:
    """Single-flight fills from peers, then the origin, into the store."""

    def __init__(
        self,
        config: EdgeConfig,
        store: DiskStore,
        upstreams: Upstreams,
        *,
        signer: UrlSigner,
        stats: EdgeStats,
        clock: Clock,
    ) -> None:
        self._config = config
        self._store = store
        self._upstreams = upstreams
        self._signer = signer
        self._stats = stats
        self._clock = clock
        self._flights: dict[str, asyncio.Future[Entry]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._tokens: dict[str, tuple[float, str]] = {}

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=64, limit_per_host=16)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def in_flight(self) -> int:
        """Objects being fetched right now."""
        return len(self._flights)

    async def fetch(self, key: str, *, pin_until: float | None = None) -> Entry:
        """The entry for ``key``, fetched once however many ask at the same time. Raises
        ObjectMissing (the origin has no such object) or UpstreamUnavailable."""
        flight = self._flights.get(key)
        if flight is None:
            held = self._store.peek(key)
            if held is not None:
                return held
            flight = asyncio.get_running_loop().create_future()
            flight.add_done_callback(_consume)
            self._flights[key] = flight
            task = asyncio.create_task(self._fly(key, flight, pin_until))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(flight)

    async def _fly(self, key: str, flight: asyncio.Future[Entry], pin_until: float | None) -> None:
        try:
            entry = await self._fill(key, pin_until)
        except asyncio.CancelledError:
            flight.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, every waiter must hear it
            flight.set_exception(exc)
        else:
            flight.set_result(entry)
        finally:
            self._flights.pop(key, None)

    async def _fill(self, key: str, pin_until: float | None) -> Entry:
        problems: list[str] = []
        auth = [("authorization", f"Bearer {self._peer_token(key)}")]
        for peer in self._upstreams.peers(key):
            try:
                url = f"{peer}{PEER_PATH}{quote(key)}"
                return await self._download(url, key, "peer", auth, pin_until)
            except NotHeld:
                continue
            except UpstreamFailed as exc:
                problems.append(str(exc))
                self._upstreams.failed(peer)
        for origin in self._upstreams.origins():
            try:
                return await self._download(f"{origin}/{quote(key)}", key, "origin", [], pin_until)
            except UpstreamFailed as exc:
                problems.append(str(exc))
                self._upstreams.failed(origin)
        if not problems:
            problems.append("no origin is known")
        raise UpstreamUnavailable(
            f"The edge could not fetch {key} from a peer or the origin: {'; '.join(problems)}"
        )

    def _peer_token(self, key: str) -> str:
        """A short-lived token for the title's folder: how a peer knows the ask is an edge's."""
        prefix = asset_prefix(key)
        now = self._clock.time()
        cached = self._tokens.get(prefix)
        if cached is not None and cached[0] > now + PEER_TOKEN_SECONDS / 2:
            return cached[1]
        if len(self._tokens) > 4096:
            self._tokens.clear()
        token, claims = self._signer.issue(prefix, PEER_TOKEN_SECONDS)
        self._tokens[prefix] = (float(claims.expires), token)
        return token

    async def _download(
        self,
        url: str,
        key: str,
        source: str,
        headers: list[tuple[str, str]],
        pin_until: float | None,
    ) -> Entry:
        if self._session is None:
            raise UpstreamFailed("the edge's HTTP client is not started")
        config = self._config
        timeout = aiohttp.ClientTimeout(
            total=config.peer_timeout if source == "peer" else config.upstream_timeout,
            connect=config.connect_timeout,
        )
        temp = self._store.temp_path()
        try:
            async with self._session.get(
                url,
                headers=[*headers, ("accept-encoding", "identity")],
                timeout=timeout,
                allow_redirects=False,
            ) as resp:
                size, modified = await _receive(resp, temp, url, key, source)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            temp.unlink(missing_ok=True)
            raise UpstreamFailed(f"{url}: {str(exc) or type(exc).__name__}") from exc
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        mtime = modified if modified is not None else int(self._clock.time())
        try:
            entry = self._store.admit(key, temp, mtime, pin_until=pin_until)
        except OSError as exc:  # the edge's own disk (full, gone): served by the next host
            temp.unlink(missing_ok=True)
            raise UpstreamUnavailable(f"The edge could not store {key}: {exc}") from exc
        self._stats.fetched(source, size)
        log.debug("filled %s from %s (%d bytes)", key, source, size)
        return entry


async def _receive(
    resp: aiohttp.ClientResponse, temp: Path, url: str, key: str, source: str
) -> tuple[int, int | None]:
    """The body of an upstream's answer written to ``temp``: its size and Last-Modified."""
    if resp.status == 404:
        if source == "peer":
            raise NotHeld(f"{url}: not held")
        raise ObjectMissing(f"There is no media object {key}.")
    if resp.status != 200:
        raise UpstreamFailed(f"{url} answered {resp.status}")
    expected = resp.content_length
    size = await _write(resp, temp)
    if expected is not None and size != expected:
        raise UpstreamFailed(f"{url} sent {size} of {expected} bytes")
    return size, parse_http_date(resp.headers.get("last-modified", ""))


async def _write(resp: aiohttp.ClientResponse, temp: Path) -> int:
    """Stream the body into ``temp``. Writes go to the page cache, so they stay on the loop:
    a thread hop per chunk would cost more than the write."""
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    size = 0
    try:
        async for chunk in resp.content.iter_chunked(CHUNK):
            view = memoryview(chunk)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            size += len(chunk)
    finally:
        os.close(fd)
    return size


class FillQueue:
    """Proactive fill: keys queued by ``POST /edge/fill``, fetched a few at a time."""

    def __init__(self, filler: Filler, store: DiskStore, *, concurrency: int = 2) -> None:
        self._filler = filler
        self._store = store
        self._concurrency = max(1, concurrency)
        self._pending: deque[tuple[str, float | None]] = deque()
        self._workers: set[asyncio.Task[None]] = set()
        self.queued = 0
        self.done = 0
        self.failed = 0
        self.bytes = 0

    def submit(self, keys: list[str], pin_until: float | None) -> int:
        """Queue ``keys`` (pinned until ``pin_until`` once held); how many were queued."""
        self._pending.extend((key, pin_until) for key in keys)
        self.queued += len(keys)
        while len(self._workers) < self._concurrency and len(self._workers) < len(self._pending):
            worker = asyncio.create_task(self._work())
            self._workers.add(worker)
            worker.add_done_callback(self._workers.discard)
        return len(keys)

    async def _work(self) -> None:
        while self._pending:
            key, pin_until = self._pending.popleft()
            held = self._store.peek(key)
            try:
                entry = held or await self._filler.fetch(key, pin_until=pin_until)
            except EdgeError as exc:
                self.failed += 1
                log.warning("proactive fill of %s failed: %s", key, exc)
                continue
            if not entry.cached:
                self.failed += 1
                log.warning("proactive fill of %s: it does not fit beside pinned content", key)
                continue
            if pin_until is not None:
                self._store.pin(key, pin_until)
            self.done += 1
            if held is None:
                self.bytes += entry.rep.size

    def progress(self) -> dict[str, Any]:
        return {
            "queued": self.queued,
            "pending": len(self._pending),
            "done": self.done,
            "failed": self.failed,
            "bytes": self.bytes,
            "running": bool(self._workers),
        }

    async def close(self) -> None:
        self._pending.clear()
        for worker in list(self._workers):
            worker.cancel()
        if self._workers:
            await asyncio.gather(*self._workers, return_exceptions=True)
