"""The edge's HTTP face: a plain ASGI app (no framework on the hit path).

* ``GET|HEAD /t/<token>/media/assets/<id>/...``: checked (400 for a path that is not plain,
  403 for a token that does not allow it), then served from disk; a miss fills first
  (:mod:`matinee.cdn.edge.fill`). A whole object goes out with ASGI ``pathsend`` (granian sends
  the file itself; from RAM instead when the optional memory tier holds it); a range is read
  and sent as a body. Rendition-listing manifests are cut to
  the token's height. ``OPTIONS`` answers a CORS preflight.
* ``GET|HEAD /internal/edge/objects/<key>``: a peer of the cluster asks for an object this edge
  holds (with a token for the title's folder); 404 when not held, never a fill.
* ``GET /edge/report``; ``POST /edge/fill`` (202; only with a token of the fleet's URL key
  for the whole media prefix, which steering sends) and ``GET /edge/fill`` (progress);
  ``GET /healthz``, ``GET /readyz``.

The path is percent-decoded exactly once, from ``raw_path``: whatever is left that is not plain
(``..``, a ``%`` from double encoding, ``\\``, control characters) is refused before the disk
is touched, and the key is then only ever joined below the store's root.
"""

from __future__ import annotations

import json
import logging
import os
from collections import OrderedDict
from pathlib import Path
from urllib.parse import unquote_to_bytes

from pydantic import BaseModel, Field, ValidationError

from matinee.cdn.edge.access import MasterNeeded
from matinee.cdn.edge.appliance import Appliance
from matinee.cdn.edge.config import MEDIA_PREFIX
from matinee.cdn.edge.errors import (
    InvalidFill,
    NotHeld,
    ObjectMissing,
    UpstreamUnavailable,
    code_of,
    status_of,
)
from matinee.cdn.edge.fill import PEER_PATH
from matinee.cdn.edge.store import Entry
from matinee.delivery.errors import DeliveryError, TokenInvalid, TokenWrongPath, UnsafePath
from matinee.delivery.http import (
    CONDITIONAL,
    CORS,
    MANIFESTS,
    Representation,
    etag_of_bytes,
    preflight,
)
from matinee.delivery.http import answer as answer_for
from matinee.delivery.manifests import filter_manifest
from matinee.delivery.paths import safe_path
from matinee.delivery.tokens import Claims
from matinee.runtime.transport import Message, Receive, Scope, Send

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
MAX_FILL_BODY = 4 * 1024 * 1024
EMPTY = {"type": "http.response.body", "body": b""}
JSON = (b"content-type", b"application/json")


class FillRequest(BaseModel):
    """``POST /edge/fill``: object keys to fetch ahead of demand, kept until ``pin_until``."""

    keys: list[str] = Field(min_length=1, max_length=100_000)
    pin_until: float | None = None


class EdgeApp:
    """ASGI app of one :class:`Appliance`."""

    def __init__(self, edge: Appliance) -> None:
        self.edge = edge
        config = edge.config
        # Behind its own nginx the client's address comes in X-Forwarded-For (nginx sets it).
        self._trust_forwarded = config.trust_forwarded or config.front == "nginx"
        served_by = (b"x-served-by", config.edge_id.encode("latin-1"))
        self._hit = [(b"x-cache", b"HIT"), served_by]
        self._miss = [(b"x-cache", b"MISS"), served_by]
        self._filtered: OrderedDict[tuple[str, str, int], tuple[Representation, bytes] | None]
        self._filtered = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            if kind == "lifespan":
                await _lifespan(receive, send)
            return
        path: str = scope["path"]
        try:
            if path.startswith("/t/"):
                await self._signed(scope, send)
            elif path.startswith(PEER_PATH):
                await self._peer(scope, send)
            else:
                await self._control(scope, receive, send, path)
        except DeliveryError as exc:
            await _error(send, status_of(exc), code_of(exc), str(exc))
        except (ObjectMissing, NotHeld, UpstreamUnavailable, InvalidFill) as exc:
            await _error(send, status_of(exc), code_of(exc), str(exc))

    # -- media ---------------------------------------------------------------------------------
    async def _signed(self, scope: Scope, send: Send) -> None:
        method = scope["method"]
        if method == "OPTIONS":
            await _preflight(scope, send)
            return
        if method not in ("GET", "HEAD"):
            await _error(send, 405, "method_not_allowed", "Media is read with GET or HEAD.")
            return
        raw: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        parts = raw.split(b"/", 3)  # b"", b"t", token, path
        if len(parts) < 4:
            raise UnsafePath("The media path is empty or too long.")
        path = _decoded(parts[3])
        token = parts[2].decode("latin-1")
        edge = self.edge
        client_ip = self._client_ip(scope)
        claims = edge.access.claims(token, path, client_ip=client_ip)
        if not path.startswith(MEDIA_PREFIX):
            await _error(send, 404, "not_found", "Only packaged assets are served.")
            return
        if claims.max_height is not None:
            await self._check_rendition(claims, path)
        stats = edge.stats
        stats.inflight += 1
        try:
            entry = edge.store.get(path)
            if entry is not None:
                stats.hits += 1
                extra = self._hit
            else:
                stats.misses += 1
                extra = self._miss
                entry = await edge.filler.fetch(path)
            edge.access.grant(token, claims, path, client_ip=client_ip)  # held: nginx may serve
            if claims.max_height is not None and path.endswith(MANIFESTS):
                cut = self._cut(entry, claims.max_height)
                if cut is not None:
                    await self._send_bytes(scope, send, cut[0], cut[1], extra)
                    return
            await self._send_entry(scope, send, entry, extra)
        finally:
            stats.inflight -= 1

    async def _check_rendition(self, claims: Claims, path: str) -> None:
        access = self.edge.access
        try:
            access.check_rendition(claims, path)
        except MasterNeeded as need:
            try:
                await self.edge.filler.fetch(need.key)
            except ObjectMissing:
                access.master_missing(claims.prefix)
            access.check_rendition(claims, path)

    def _cut(self, entry: Entry, height: int) -> tuple[Representation, bytes] | None:
        """The manifest cut to ``height`` (remembered per version), or None when it is not a
        rendition-listing manifest (the file is served as it is)."""
        memo = (entry.key, entry.rep.etag, height)
        if memo in self._filtered:
            self._filtered.move_to_end(memo)
            return self._filtered[memo]
        body = Path(entry.path).read_bytes()
        filtered = filter_manifest(entry.key, body, height)
        cut = None
        if filtered is not body:
            rep = Representation.of(
                entry.key,
                len(filtered),
                entry.rep.mtime,
                etag=etag_of_bytes(filtered),
                private=True,
            )
            cut = (rep, filtered)
        self._filtered[memo] = cut
        if len(self._filtered) > 512:
            self._filtered.popitem(last=False)
        return cut

    def _client_ip(self, scope: Scope) -> str | None:
        if self._trust_forwarded:
            for name, value in scope["headers"]:
                if name == b"x-forwarded-for":
                    # The first address; an empty one (an empty header, which nginx in front
                    # extends with the peer's address) is the peer, as nginx takes it.
                    hops: list[str] = value.decode("latin-1").split(",")
                    return hops[0].strip() or hops[-1].strip()
        client = scope.get("client")
        return str(client[0]) if client else None

    async def _send_entry(
        self, scope: Scope, send: Send, entry: Entry, extra: list[tuple[bytes, bytes]]
    ) -> None:
        rep = entry.rep
        answer = answer_for(scope["method"], _conditional(scope), rep)
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": answer.headers + extra,
            }
        )
        if not answer.send_body:
            await send(EMPTY)
            return
        part = answer.range
        if part is None:
            self.edge.stats.served(rep.size)
            memory = self.edge.memory
            body = memory.get(entry) if memory is not None and scope["method"] == "GET" else None
            if body is not None:
                await send({"type": "http.response.body", "body": body})
            elif "http.response.pathsend" in scope.get("extensions", {}):
                await send({"type": "http.response.pathsend", "path": entry.path})
            else:
                await _send_file(send, entry.path, 0, rep.size)
            return
        self.edge.stats.served(part.length)
        await _send_file(send, entry.path, part.start, part.length)

    async def _send_bytes(
        self,
        scope: Scope,
        send: Send,
        rep: Representation,
        body: bytes,
        extra: list[tuple[bytes, bytes]],
    ) -> None:
        answer = answer_for(scope["method"], _conditional(scope), rep)
        headers = answer.headers + extra
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        if not answer.send_body:
            await send(EMPTY)
            return
        part = answer.range
        chunk = body if part is None else body[part.start : part.end + 1]
        self.edge.stats.served(len(chunk))
        await send({"type": "http.response.body", "body": chunk})

    # -- peers ---------------------------------------------------------------------------------
    async def _peer(self, scope: Scope, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await _error(send, 405, "method_not_allowed", "Peers read objects with GET or HEAD.")
            return
        raw: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        key = _decoded(raw[len(PEER_PATH) :])
        safe_path(key)
        token = ""
        for name, value in scope["headers"]:
            if name == b"authorization":
                token = value.decode("latin-1").removeprefix("Bearer ").strip()
        self.edge.access.signer.verify(token, key)
        entry = self.edge.store.get(key) if key.startswith(MEDIA_PREFIX) else None
        if entry is None:
            raise NotHeld(f"This edge does not hold {key}.")
        await self._send_entry(scope, send, entry, self._hit)

    # -- control -------------------------------------------------------------------------------
    def _authorize_fill(self, scope: Scope) -> None:
        """A fill makes the edge fetch and keep files, so only steering may ask: it sends a
        token of the fleet's URL-signing key that covers every media object."""
        token = ""
        for name, value in scope["headers"]:
            if name == b"authorization":
                token = value.decode("latin-1").removeprefix("Bearer ").strip()
        if not token:
            raise TokenInvalid("A fill request needs the fleet's signed token (Authorization).")
        signer = self.edge.access.signer
        claims = signer.claims(token)
        if claims.prefix != MEDIA_PREFIX:
            raise TokenWrongPath("This token does not allow filling the whole media library.")
        signer.check(claims, MEDIA_PREFIX)

    async def _control(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        method = scope["method"]
        edge = self.edge
        if path == "/edge/report" and method == "GET":
            await _json(send, 200, edge.report())
        elif path == "/edge/fill" and method == "GET":
            await _json(send, 200, edge.fills.progress())
        elif path == "/edge/fill" and method == "POST":
            self._authorize_fill(scope)
            request = _fill_request(await _body(receive))
            keys = [_fill_key(i, key) for i, key in enumerate(request.keys)]
            queued = edge.fills.submit(keys, request.pin_until)
            await _json(send, 202, {"accepted": queued, **edge.fills.progress()})
        elif path == "/healthz" and method == "GET":
            body = {"status": "UP", "edge_id": edge.config.edge_id}
            await _json(send, 200 if edge.healthy else 503, body)
        elif path == "/readyz" and method == "GET":
            body = {"status": "UP" if edge.ready else "DOWN", "edge_id": edge.config.edge_id}
            await _json(send, 200 if edge.ready else 503, body)
        else:
            await _error(send, 404, "not_found", f"This edge has nothing at {method} {path}.")


def _decoded(raw: bytes) -> str:
    """``raw`` percent-decoded once, as UTF-8 text (still to be checked by safe_path)."""
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnsafePath("The media path is not valid UTF-8.") from exc


def _conditional(scope: Scope) -> dict[bytes, str]:
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in CONDITIONAL:
            found[name] = value.decode("latin-1")
    return found


def _fill_request(body: bytes) -> FillRequest:
    try:
        return FillRequest.model_validate_json(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())) or 'body'}: {e.get('msg', 'invalid')}"
            for e in exc.errors()
        )
        raise InvalidFill(f"The fill request is not valid: {problems}") from exc


def _fill_key(index: int, key: str) -> str:
    try:
        safe_path(key)
    except UnsafePath as exc:
        raise InvalidFill(f"The fill request is not valid: keys.{index}: {exc}") from exc
    if not key.startswith(MEDIA_PREFIX):
        raise InvalidFill(f"The fill request is not valid: keys.{index}: not under media/assets/")
    return key


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FILL_BODY:
            raise InvalidFill("The fill request is larger than 4 MB.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send_file(send: Send, path: str, start: int, length: int) -> None:
    """Bytes ``start`` .. ``start + length`` of ``path`` as a body. From the page cache, reads
    are quick enough for the loop."""
    fd = os.open(path, os.O_RDONLY)
    try:
        offset, left = start, length
        while True:
            chunk = os.pread(fd, min(CHUNK, left), offset)
            offset += len(chunk)
            left -= len(chunk)
            more = left > 0 and bool(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": more})
            if not more:
                return
    finally:
        os.close(fd)


async def _json(send: Send, status: int, body: object) -> None:
    data = json.dumps(body).encode()
    headers = [JSON, (b"content-length", str(len(data)).encode()), *CORS]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def _error(send: Send, status: int, code: str, message: str) -> None:
    await _json(send, status, {"error": code, "message": message})


async def _preflight(scope: Scope, send: Send) -> None:
    headers = preflight(dict(scope["headers"]))
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send(EMPTY)


async def _lifespan(receive: Receive, send: Send) -> None:
    """The host starts and stops the appliance; a lifespan is only acknowledged."""
    while True:
        message: Message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
