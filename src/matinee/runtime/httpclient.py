"""HTTP/1.1 over real sockets on asyncio and httptools: the fleet's network transport.

:class:`HttpTransport` keeps a pool of keep-alive connections per ``host:port`` and sends each
request as one pre-built block of bytes; httptools (llhttp) parses the answer. It does nothing
else - no redirects, cookies, decompression or proxies - because a call between services needs
none of it, and every feature is work on the gateway's hot path.

Chosen by measurement (docs/benchmarks.md, "Gateway"): sending a GET with 8 headers to
nginx's static answer from one uvloop process, 32 calls in flight, aiohttp 3.14 (C parser, no
auto headers, no decompression) spends 90-115 us of CPU per call; this client 17-20 us. Behind
the gateway, on its own, the switch took the proxied request rate from 0.33x to about 0.5x of
the direct one.

Failures become the resilience errors where they enter: not connected in time or refused is
:class:`UpstreamConnectError`; no whole answer in time is :class:`UpstreamReadTimeout`; the
connection closed (or sent something that is not HTTP) before the whole answer is
:class:`UpstreamDisconnected`. An idempotent request that finds a reused keep-alive connection
closed before a single byte of answer arrived is sent once more on a new connection, as
aiohttp and urllib3 do: the server closed an idle connection as the request went out.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque

from matinee.resilience.errors import UpstreamConnectError, UpstreamReadTimeout
from matinee.runtime.connection import Connection, encode_request
from matinee.runtime.transport import (
    Headers,
    HttpClientConfig,
    Response,
    UpstreamDisconnected,
    split_url,
)

_REPLAYABLE = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})


class _Pool:
    """The connections to one ``host:port``: idle ones (most recent last) and a count of all."""

    __slots__ = ("authority", "conns", "host", "idle", "owner", "port", "size", "ssl", "waiters")

    def __init__(self, owner: HttpTransport, authority: str, scheme: str) -> None:
        self.owner = owner
        self.authority = authority
        host, port = _host_port(authority, 443 if scheme == "https" else 80)
        self.host = host
        self.port = port
        self.ssl = scheme == "https"
        self.idle: list[Connection] = []
        self.conns: set[Connection] = set()  # open, idle or busy
        self.size = 0  # open or opening
        self.waiters: deque[asyncio.Future[None]] = deque()

    def lost(self, conn: Connection) -> None:
        if conn in self.idle:
            self.idle.remove(conn)
        self.conns.discard(conn)
        self.size -= 1
        self.owner.opened -= 1
        self.owner.wake(self)


def _host_port(authority: str, default: int) -> tuple[str, int]:
    if authority.startswith("["):  # [::1]:8080
        host, _, rest = authority[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default
    host, sep, port = authority.rpartition(":")
    if not sep or not port.isdigit():
        return authority, default
    return host, int(port)


class HttpTransport:
    """HTTP/1.1 with a keep-alive pool per host; see the module docstring."""

    def __init__(self, config: HttpClientConfig | None = None) -> None:
        self.config = config or HttpClientConfig()
        self._pools: dict[str, _Pool] = {}
        self.opened = 0  # connections open or opening, every host
        self._waiters: deque[asyncio.Future[None]] = deque()  # blocked by max_connections
        self._sweeper: asyncio.TimerHandle | None = None
        self._ssl: ssl.SSLContext | None = None
        self._closed = False

    async def request(
        self,
        method: str,
        url: str,
        headers: Headers = (),
        body: bytes = b"",
        timeout: float = 10.0,  # noqa: ASYNC109 - the protocol's timeout, passed to the I/O
    ) -> Response:
        scheme, authority, target = split_url(url)
        pool = self._pools.get(authority)
        if pool is None:
            pool = self._pools[authority] = _Pool(self, authority, scheme)
        method = method.upper()
        request = encode_request(method, target, authority, headers, body)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        conn = await self._acquire(pool, deadline, timeout)
        head = method == "HEAD"
        try:
            return await self._exchange(
                pool, conn, request, head=head, deadline=deadline, seconds=timeout
            )
        except UpstreamDisconnected:
            if conn.uses > 1 and not conn.received and method in _REPLAYABLE:
                # A stale keep-alive connection: the server closed it as the request went out.
                fresh = await self._acquire(pool, deadline, timeout, reuse=False)
                return await self._exchange(
                    pool, fresh, request, head=head, deadline=deadline, seconds=timeout
                )
            raise

    async def _exchange(
        self,
        pool: _Pool,
        conn: Connection,
        request: bytes,
        *,
        head: bool,
        deadline: float,
        seconds: float,
    ) -> Response:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Response] = loop.create_future()
        conn.send(request, waiter, head=head)
        timer = loop.call_at(deadline, conn.timed_out, seconds)
        try:
            response = await waiter
        except BaseException:
            conn.close()  # an answer may still come: never reuse this connection
            raise
        finally:
            timer.cancel()
        self._release(conn, pool)
        return response

    async def _acquire(
        self, pool: _Pool, deadline: float, seconds: float, *, reuse: bool = True
    ) -> Connection:
        loop = asyncio.get_running_loop()
        cfg = self.config
        while True:
            if self._closed:
                raise UpstreamConnectError("the transport is closed", instance=pool.authority)
            now = loop.time()
            while reuse and pool.idle:
                conn = pool.idle.pop()
                if not conn.closed and now - conn.idle_since < cfg.keepalive_timeout:
                    return conn
                conn.close()
            if pool.size < cfg.max_connections_per_host:
                if self.opened >= cfg.max_connections:
                    self._evict_idle()
                if self.opened < cfg.max_connections:
                    return await self._connect(pool, min(cfg.connect_timeout, deadline - now))
                queue = self._waiters
            else:
                queue = pool.waiters
            if now >= deadline:
                raise UpstreamReadTimeout(
                    f"no connection to {pool.authority} was free within {seconds:g} s",
                    instance=pool.authority,
                )
            await self._wait_turn(queue, pool, deadline)

    async def _wait_turn(
        self, queue: deque[asyncio.Future[None]], pool: _Pool, deadline: float
    ) -> None:
        """Until a connection or a slot frees up (``wake``), or the deadline passes."""
        wakeup: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(wakeup)
        try:
            async with asyncio.timeout_at(deadline):
                await wakeup
        except TimeoutError:
            pass  # the caller finds the deadline passed
        except BaseException:
            if wakeup.done() and not wakeup.cancelled():
                self.wake(pool)  # cancelled after being woken: pass the turn on
            raise
        finally:
            if not wakeup.done():
                wakeup.cancel()
            with contextlib.suppress(ValueError):
                queue.remove(wakeup)

    async def _connect(self, pool: _Pool, seconds: float) -> Connection:
        loop = asyncio.get_running_loop()
        pool.size += 1
        self.opened += 1
        conn = Connection(pool.authority, pool.lost)
        try:
            async with asyncio.timeout(max(seconds, 0.0)):
                if pool.ssl:
                    await loop.create_connection(
                        lambda: conn, pool.host, pool.port, ssl=self._ssl_context()
                    )
                else:
                    await loop.create_connection(lambda: conn, pool.host, pool.port)
        except BaseException as exc:
            pool.size -= 1
            self.opened -= 1
            self.wake(pool)
            if isinstance(exc, TimeoutError):
                raise UpstreamConnectError(
                    f"could not connect to {pool.authority} within {seconds:g} s",
                    instance=pool.authority,
                ) from exc
            if isinstance(exc, OSError):
                raise UpstreamConnectError(
                    f"could not connect to {pool.authority}: {exc.strerror or exc}",
                    instance=pool.authority,
                ) from exc
            raise
        pool.conns.add(conn)
        self._arm_sweeper(loop)
        return conn

    def _release(self, conn: Connection, pool: _Pool) -> None:
        if not conn.reusable() or self._closed:
            conn.close()
            return
        conn.idle_since = asyncio.get_running_loop().time()
        pool.idle.append(conn)
        self.wake(pool)

    def wake(self, pool: _Pool) -> None:
        """Something in ``pool`` (or a slot of the whole transport) became free."""
        for queue in (pool.waiters, self._waiters):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return

    def _evict_idle(self) -> None:
        """Close the longest-idle connection of any host, to open one to another (the slot is
        free once the connection reports it is lost, which wakes a waiter)."""
        oldest: tuple[Connection, _Pool] | None = None
        for pool in self._pools.values():
            if pool.idle and (oldest is None or pool.idle[0].idle_since < oldest[0].idle_since):
                oldest = (pool.idle[0], pool)
        if oldest is not None:
            oldest[1].idle.remove(oldest[0])
            oldest[0].close()

    def _arm_sweeper(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._sweeper is None:
            self._sweeper = loop.call_later(self.config.keepalive_timeout / 2, self._sweep, loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close connections idle for longer than ``keepalive_timeout`` (before servers do)."""
        self._sweeper = None
        now = loop.time()
        limit = self.config.keepalive_timeout
        for pool in self._pools.values():
            for conn in [c for c in pool.idle if now - c.idle_since >= limit]:
                conn.close()
        if self.opened > 0 and not self._closed:
            self._arm_sweeper(loop)

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    async def aclose(self) -> None:
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for pool in self._pools.values():
            for conn in list(pool.conns):
                conn.close()  # a call still in flight fails as disconnected
            pool.idle.clear()
            for waiter in pool.waiters:
                waiter.cancel()
        for waiter in self._waiters:
            waiter.cancel()
        await asyncio.sleep(0)  # let the transports report connection_lost
        self._pools.clear()
        self._closed = False
