"""What the edge's unit tests share: a real origin on a socket, edges in this process, and a
raw ASGI caller (so a test controls the exact bytes of the path and whether the server offers
``pathsend``).

The origin is the media service's own app (``create_service_app``) over a local object store,
served by granian on a port of 16200-16399, with every request it answers counted.
"""

from __future__ import annotations

import json
import random
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from matinee.cdn.edge import Appliance, EdgeApp, EdgeConfig
from matinee.clock import Clock, SystemClock
from matinee.delivery.tokens import Claims, UrlSigner
from matinee.platform import Platform
from matinee.runtime.app import create_service_app
from matinee.runtime.context import Node, RuntimeConfig, build_context
from matinee.runtime.server import Server, ServerConfig
from matinee.runtime.transport import AsgiTransport, Message, Receive, Scope, Send
from matinee.services import media
from matinee.settings import Settings

DATA = Path(__file__).parents[2] / "delivery" / "data"
MASTER = (DATA / "master.m3u8").read_bytes()
MPD = (DATA / "manifest.mpd").read_bytes()
KEY = b"edge-signing-key-for-the-tests-01"
PREFIX = "media/assets/a1/"
SEG_720 = "media/assets/a1/video/720p-3000k/00001.m4s"
SEG_1080 = "media/assets/a1/video/1080p-6000k/00001.m4s"
BIG = "media/assets/a1/video/720p-3000k/00002.m4s"
PORTS = (16200, 16399)


def free_port() -> int:
    """A port of this suite's range that nothing is bound to (random start: parallel runs)."""
    ports = list(range(PORTS[0], PORTS[1] + 1))
    random.shuffle(ports)
    for port in ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("every port of 16200-16399 is taken")


def segment(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


OBJECTS: dict[str, bytes] = {
    "assets/a1/master.m3u8": MASTER,
    "assets/a1/manifest.mpd": MPD,
    "assets/a1/video/720p-3000k/index.m3u8": b"#EXTM3U\n#EXTINF:4,\n00001.m4s\n",
    "assets/a1/video/720p-3000k/init.mp4": segment(1, 900),
    "assets/a1/video/720p-3000k/00001.m4s": segment(2, 50_000),
    "assets/a1/video/720p-3000k/00002.m4s": segment(3, 1_048_576),
    "assets/a1/video/1080p-6000k/00001.m4s": segment(4, 90_000),
    "assets/a1/text/eng-0/00001.vtt": b"WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n",
    "assets/a1/poster.jpg": segment(5, 3000),
    "assets/a1/text/eng-0/00002.vtt": b"",
    "assets/a2/master.m3u8": MASTER,
    "masters/j1/source.mp4": b"the studio master",
}


def media_bytes(key: str) -> bytes:
    """What the origin holds for media path ``key`` (``media/assets/...``)."""
    return OBJECTS[key.removeprefix("media/")]


def make_platform(tmp: Path) -> Platform:
    platform = Platform(Settings(data_dir=tmp / "origin"))
    for key, body in OBJECTS.items():
        platform.objects.put_bytes(key, body)
    return platform


class Counted:
    """An ASGI app that counts the requests it passes on, by method and path."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: Counter[tuple[str, str]] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.requests[(scope["method"], scope["path"])] += 1
        await self.app(scope, receive, send)

    def gets(self, key: str) -> int:
        """How many GETs of the unsigned object path ``/<key>`` arrived."""
        return self.requests[("GET", f"/{key}")]


@dataclass
class Origin:
    url: str
    counted: Counted
    server: Server


@asynccontextmanager
async def running(edge: Appliance) -> AsyncIterator[EdgeApp]:
    """``edge`` started, as the ASGI app a server would run; stopped on the way out."""
    await edge.start()
    try:
        yield EdgeApp(edge)
    finally:
        await edge.stop()


@asynccontextmanager
async def origin(platform: Platform) -> AsyncIterator[Origin]:
    """The media service (the origin) on a real socket."""
    port = free_port()
    node = Node(platform.settings, RuntimeConfig(url_signing_key=KEY), AsgiTransport())
    ctx = build_context(
        "media", node, instance_id="media-1", host="127.0.0.1", port=port, platform=platform
    )
    counted = Counted(create_service_app(media.SPEC, ctx))
    server = Server(counted, ServerConfig(port=port))
    await server.start()
    try:
        yield Origin(f"http://127.0.0.1:{port}", counted, server)
    finally:
        await server.stop()


def make_edge(
    root: Path,
    *,
    origins: Sequence[str] = (),
    peers: Sequence[str] = (),
    capacity: int = 50_000_000,
    policy: str = "lru",
    clock: Clock | None = None,
    edge_id: str = "edge-a",
    port: int = 0,
    cluster: str = "local-a",
    retire_grace: float = 10.0,
    memory_bytes: int = 0,
) -> Appliance:
    config = EdgeConfig(
        edge_id=edge_id,
        root=root,
        capacity_bytes=capacity,
        port=port,
        cluster=cluster,
        policy=policy,
        origins=tuple(origins),
        peers=tuple(peers),
        upstream_timeout=5.0,
        retire_grace=retire_grace,
        memory_bytes=memory_bytes,
    )
    return Appliance(config, KEY, clock=clock)


def token(
    prefix: str = PREFIX,
    ttl: float = 600,
    *,
    height: int | None = None,
    ip: str | None = None,
    now: float | None = None,
) -> str:
    signer = UrlSigner(KEY, SystemClock())
    expires = int((time.time() if now is None else now) + ttl)
    return signer.sign(Claims(prefix, expires, height, ip))


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    pathsend: str | None = None
    messages: list[Message] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.body)


async def call(
    app: EdgeApp,
    method: str,
    raw_path: bytes | str,
    headers: Sequence[tuple[str, str]] = (),
    *,
    body: bytes = b"",
    pathsend: bool = False,
    client: str = "127.0.0.1",
) -> Reply:
    """One request to ``app`` as a server would make it; ``raw_path`` is sent as it is."""
    raw = raw_path.encode("latin-1") if isinstance(raw_path, str) else raw_path
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw.decode("latin-1")),
        "raw_path": raw,
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        "client": (client, 40000),
        "server": ("127.0.0.1", 80),
        "extensions": {"http.response.pathsend": {}} if pathsend else {},
    }
    sent: list[Message] = []
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    assert start["type"] == "http.response.start", sent
    reply = Reply(
        status=int(start["status"]),
        headers={k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]},
        body=b"".join(m.get("body", b"") for m in sent[1:] if m["type"] == "http.response.body"),
        messages=sent,
    )
    for message in sent[1:]:
        if message["type"] == "http.response.pathsend":
            reply.pathsend = str(message["path"])
    return reply


def sent_bytes(reply: Reply) -> bytes:
    """What the client got: the file a pathsend named, or the body."""
    return Path(reply.pathsend).read_bytes() if reply.pathsend else reply.body


def disk_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def signed(path: str, tok: str | None = None) -> str:
    return f"/t/{tok or token()}/{path}"
