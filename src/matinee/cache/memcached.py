"""A small asyncio memcached client (text protocol), pipelined on a few connections per server.

Chosen by measurement over pymemcache in a worker thread and aiomcache (see bench/cache_client.py
and docs/benchmarks.md): requests are written without waiting for earlier answers, the writes of
one event-loop turn go out in one send, and memcached answers each connection's requests in
order, so a FIFO of futures pairs answers with requests. Many requests in flight cost one round
trip, where a synchronous client pays one per request.

A request that gets no answer within ``timeout`` means the connection can no longer be trusted:
it is closed and everything pending on it fails with CacheUnavailable. A server that refused a
connection is not tried again for ``retry_interval`` seconds (calls fail at once meanwhile), so a
dead server costs the fallback path nothing but a check.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Awaitable, Sequence
from typing import Any, cast

from matinee.cache.errors import CacheUnavailable, ValueTooLarge
from matinee.cache.server import MAX_TTL_RELATIVE, Item
from matinee.clock import Clock

_GET, _SET, _ADD, _DELETE, _FLUSH = range(5)
# Answers of the commands answered by one line, and what each means to the caller.
_LINE_ANSWERS: dict[int, dict[bytes, object]] = {
    _SET: {b"STORED": None},
    _ADD: {b"STORED": True, b"NOT_STORED": False},
    _DELETE: {b"DELETED": True, b"NOT_FOUND": False},
    _FLUSH: {b"OK": None},
}
GET_BATCH = 100  # keys per multi-get command
_UNKNOWN = object()


class _Connection(asyncio.Protocol):
    """One TCP connection: pipelined requests, a FIFO of futures, an incremental parser."""

    def __init__(self, address: str, timeout: float) -> None:
        self._address = address
        self._timeout = timeout
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._pending: deque[tuple[int, asyncio.Future[Any], float]] = deque()
        self._values: dict[bytes, Item] = {}  # items of the multi-get being answered
        self._out: list[bytes] = []
        self._watchdog: asyncio.TimerHandle | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._abort(CacheUnavailable(f"memcached {self._address} closed the connection"))

    def send(self, kind: int, *parts: bytes) -> asyncio.Future[Any]:
        """Queue one request; its answer resolves the returned future."""
        if self.closed:
            raise CacheUnavailable(f"memcached {self._address} connection is closed")
        fut: asyncio.Future[Any] = self._loop.create_future()
        deadline = self._loop.time() + self._timeout
        if not self._pending and self._transport is not None:
            # An idle connection: send now, nothing is gained by waiting for company.
            self._transport.write(b"".join(parts))
        else:
            # Requests are in flight: gather this turn's writes into one send.
            if not self._out:
                self._loop.call_soon(self._flush)
            self._out.extend(parts)
        self._pending.append((kind, fut, deadline))
        if self._watchdog is None:
            self._watchdog = self._loop.call_at(deadline, self._check_deadline)
        return fut

    def _flush(self) -> None:
        if self._out and self._transport is not None and not self.closed:
            self._transport.write(b"".join(self._out))
        self._out.clear()

    def _check_deadline(self) -> None:
        self._watchdog = None
        if not self._pending:
            return
        deadline = self._pending[0][2]
        if deadline <= self._loop.time():
            self._abort(
                CacheUnavailable(
                    f"memcached {self._address} did not answer within {self._timeout} s"
                )
            )
        else:
            self._watchdog = self._loop.call_at(deadline, self._check_deadline)

    def _abort(self, error: CacheUnavailable) -> None:
        self.closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self._transport is not None:
            self._transport.abort()
        while self._pending:
            _, fut, _ = self._pending.popleft()
            if not fut.done():
                fut.set_exception(error)
        self._out.clear()

    def close(self) -> None:
        if self._transport is not None and not self.closed:
            self._flush()
            self._transport.close()
        self.closed = True

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        pos = 0
        pending = self._pending
        while pending:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                break
            kind, fut, _ = pending[0]
            if kind == _GET and buf.startswith(b"VALUE ", pos):
                # VALUE <key> <flags> <bytes> [<cas>]\r\n<data>\r\n
                fields = bytes(buf[pos + 6 : eol]).split()
                end = eol + 2 + int(fields[2])
                if len(buf) < end + 2:
                    break  # the data is still on its way
                self._values[fields[0]] = (bytes(buf[eol + 2 : end]), int(fields[1]))
                pos = end + 2
                continue
            line = bytes(buf[pos:eol])
            pos = eol + 2
            pending.popleft()
            if kind == _GET and line == b"END":
                values, self._values = self._values, {}
                if not fut.done():
                    fut.set_result(values)
                continue
            answer = _LINE_ANSWERS.get(kind, {}).get(line, _UNKNOWN)
            if answer is not _UNKNOWN:
                if not fut.done():
                    fut.set_result(answer)
                continue
            if not self._refused(fut, line.decode("ascii", "replace")):
                return
        if pos:
            del buf[:pos]

    def _refused(self, fut: asyncio.Future[Any], line: str) -> bool:
        """Fail one request answered with an error line; False when the stream is lost too."""
        self._values = {}
        if line.startswith("SERVER_ERROR"):
            # The server refused this request only; the stream stays in step.
            error: CacheUnavailable | ValueTooLarge = (
                ValueTooLarge(f"memcached {self._address} refused the item: {line}")
                if "too large" in line
                else CacheUnavailable(f"memcached {self._address} answered {line!r}")
            )
            if not fut.done():
                fut.set_exception(error)
            return True
        # ERROR or CLIENT_ERROR: what follows cannot be paired with requests any more.
        error = CacheUnavailable(f"memcached {self._address} answered {line!r}")
        if not fut.done():
            fut.set_exception(error)
        self._abort(error)
        return False


class MemcachedServer:
    """One memcached server at ``host:port``, reached over ``connections`` pipelined sockets."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        clock: Clock,
        timeout: float = 0.5,
        connect_timeout: float = 0.5,
        retry_interval: float = 1.0,
        connections: int = 1,
    ) -> None:
        if connections < 1:
            raise ValueError("a memcached server needs at least one connection")
        self.host = host
        self.port = port
        self._clock = clock
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._retry_interval = retry_interval
        self._slots: list[_Connection | None] = [None] * connections
        self._next = 0
        self._lock: asyncio.Lock | None = None
        self._down_until = -math.inf

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _request(self, kind: int, *parts: bytes) -> Awaitable[Any]:
        """Send on the next connection (round robin) and return what resolves to the answer:
        the request's future itself when the connection is open (no coroutine in between, the
        hot path), else a coroutine that opens it first."""
        i = self._next
        self._next = (i + 1) % len(self._slots)
        conn = self._slots[i]
        if conn is None or conn.closed:
            return self._connect_and_send(i, kind, parts)
        return conn.send(kind, *parts)

    async def _connect_and_send(self, slot: int, kind: int, parts: tuple[bytes, ...]) -> Any:
        return await (await self._connect(slot)).send(kind, *parts)

    async def _connect(self, slot: int) -> _Connection:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            conn = self._slots[slot]
            if conn is not None and not conn.closed:
                return conn
            if self._clock.monotonic() < self._down_until:
                raise CacheUnavailable(
                    f"memcached {self.address} is marked down; it is tried again "
                    f"{self._retry_interval} s after it refused a connection"
                )
            loop = asyncio.get_running_loop()
            try:
                async with asyncio.timeout(self._connect_timeout):
                    _, conn = await loop.create_connection(
                        lambda: _Connection(self.address, self._timeout), self.host, self.port
                    )
            except (OSError, TimeoutError) as exc:
                self._down_until = self._clock.monotonic() + self._retry_interval
                raise CacheUnavailable(
                    f"cannot connect to memcached {self.address}: {exc or 'timed out'}"
                ) from exc
            self._slots[slot] = conn
            return conn

    def _exptime(self, ttl: float | None) -> int:
        if ttl is None:
            return 0
        seconds = max(1, math.ceil(ttl))
        if seconds <= MAX_TTL_RELATIVE:
            return seconds
        return int(self._clock.time()) + seconds  # memcached reads this as a Unix time

    async def get(self, key: bytes) -> Item | None:
        values: dict[bytes, Item] = await self._request(_GET, b"get " + key + b"\r\n")
        return values.get(key)

    async def get_many(self, keys: Sequence[bytes]) -> dict[bytes, Item]:
        if not keys:
            return {}
        batches = [keys[i : i + GET_BATCH] for i in range(0, len(keys), GET_BATCH)]
        found: dict[bytes, Item] = {}
        for values in await asyncio.gather(
            *(self._request(_GET, b"get " + b" ".join(batch) + b"\r\n") for batch in batches)
        ):
            found.update(values)
        return found

    def _storage(
        self, verb: bytes, key: bytes, value: bytes, flags: int, ttl: float | None
    ) -> bytes:
        return b"%b %b %d %d %d\r\n" % (verb, key, flags, self._exptime(ttl), len(value))

    async def set(self, key: bytes, value: bytes, flags: int, ttl: float | None) -> None:
        await self._request(_SET, self._storage(b"set", key, value, flags, ttl), value, b"\r\n")

    async def add(self, key: bytes, value: bytes, flags: int, ttl: float | None) -> bool:
        stored: bool = await self._request(
            _ADD, self._storage(b"add", key, value, flags, ttl), value, b"\r\n"
        )
        return stored

    async def delete(self, key: bytes) -> bool:
        deleted: bool = await self._request(_DELETE, b"delete " + key + b"\r\n")
        return deleted

    async def touch(self, key: bytes, ttl: float | None) -> Item | None:
        # gat (get and touch, memcached >= 1.5.3) answers as get does
        values: dict[bytes, Item] = await self._request(
            _GET, b"gat %d %b\r\n" % (self._exptime(ttl), key)
        )
        return values.get(key)

    async def flush(self) -> None:
        await self._request(_FLUSH, b"flush_all\r\n")

    async def close(self) -> None:
        for i, conn in enumerate(self._slots):
            if conn is not None:
                conn.close()
            self._slots[i] = None
