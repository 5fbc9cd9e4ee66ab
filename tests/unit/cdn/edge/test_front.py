"""nginx in front of an edge: what its njs script lets nginx serve from disk (everything else is
handed to the Python edge), the hit log the edge reads back, and the heights sidecar.

The decision tests run a real nginx with nothing behind it: a request nginx serves answers 200
with ``x-edge-front: nginx``; one it hands over gets the front's own 503 (no Python edge here),
so every case shows which way nginx went without the Python edge's answer blurring it."""

from __future__ import annotations

import asyncio
import http.client
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from matinee.cdn.edge import Appliance, EdgeConfig
from matinee.cdn.edge.access import EdgeAccess
from matinee.cdn.edge.front import (
    EdgeFrontError,
    FrontConfig,
    HitLog,
    NginxFront,
    choose,
    free_port,
    gate_path,
)
from matinee.cdn.edge.store import DiskStore
from matinee.clock import FakeClock, SystemClock
from matinee.delivery.errors import RenditionNotAllowed
from matinee.delivery.tokens import Claims, UrlSigner

from .harness import MASTER, PREFIX, SEG_720, SEG_1080

KEY = b"front-signing-key-for-the-tests-0"
BODY = b"segment bytes " * 1000


def sign(prefix: str = PREFIX, ttl: float = 600, key: bytes = KEY, **claims: object) -> str:
    signer = UrlSigner(key, SystemClock())
    return signer.sign(Claims(prefix, int(time.time() + ttl), **claims))  # type: ignore[arg-type]


class Front:
    """A running nginx front over ``objects`` with no Python edge behind it."""

    def __init__(self, root: Path) -> None:
        self.objects = root / "objects"
        for key in (SEG_720, SEG_1080, PREFIX + "master.m3u8", PREFIX + "thumb.jpg"):
            (self.objects / key).parent.mkdir(parents=True, exist_ok=True)
            (self.objects / key).write_bytes(BODY)
        self.config = FrontConfig(
            root=root / "front",
            objects=self.objects,
            host="127.0.0.1",
            port=free_port(),
            backend_port=free_port(),
            edge_id="edge-t",
        )
        self.front = NginxFront(self.config, KEY)

    def get(self, path: str, method: str = "GET") -> tuple[int, bool]:
        """Status, and whether nginx served it itself."""
        conn = http.client.HTTPConnection("127.0.0.1", self.config.port, timeout=5)
        try:
            conn.request(method, path)
            answer = conn.getresponse()
            answer.read()
            return answer.status, answer.getheader("x-edge-front") == "nginx"
        finally:
            conn.close()

    def served(self, path: str, method: str = "GET") -> bool:
        status, by_nginx = self.get(path, method)
        if by_nginx:
            assert status == 200, path
            return True
        assert status == 503, (path, status)  # handed to the (absent) Python edge
        return False

    def open_gate(self, key: str, cap: int) -> None:
        """What the Python edge does once it has allowed ``key``'s folder at ``cap``."""
        folder = key.removeprefix(PREFIX).rsplit("/", 1)[0]
        gate = gate_path(self.config.gates, PREFIX, folder, cap)
        gate.parent.mkdir(parents=True, exist_ok=True)
        gate.touch()


@pytest.fixture
def front(tmp_path: Path) -> Iterator[Front]:
    running = Front(tmp_path)
    asyncio.run(running.front.start())
    try:
        yield running
    finally:
        asyncio.run(running.front.stop())


def test_nginx_serves_only_what_the_python_edge_would_allow(front: Front) -> None:
    good = sign()
    version, payload, signature = good.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    forged = sign(ttl=10**6).split(".")[1]  # claims this signature was not made for
    assert front.served(f"/t/{good}/{SEG_720}")
    assert front.served(f"/t/{good}/{SEG_720}", "HEAD")
    assert front.served(f"/t/{good}/{PREFIX}thumb.jpg")
    handed_over = [
        f"/t/{version}.{payload}.{flipped}/{SEG_720}",  # altered signature
        f"/t/{version}.{forged}.{signature}/{SEG_720}",  # payload of another token
        f"/t/{good.replace('v1.', 'v2.', 1)}/{SEG_720}",
        f"/t/{good}.extra/{SEG_720}",
        f"/t/not-a-token/{SEG_720}",
        f"/t/{'x' * 3000}/{SEG_720}",
        f"/t/{sign(key=b'another-key-altogether-0123456789')}/{SEG_720}",
        f"/t/{sign(ttl=-1)}/{SEG_720}",  # expired
        f"/t/{sign('media/assets/other/')}/{SEG_720}",  # another title
        f"/t/{sign(client_ip='10.1.2.3')}/{SEG_720}",  # another client
        f"/t/{good}/{PREFIX}master.m3u8",  # manifests: the Python edge cuts them
        f"/t/{good}/{SEG_720}?x=1",
        f"/t/{good}/{PREFIX}video/720p-3000k/%30%30001.m4s",  # any percent-encoding
        f"/t/{good}/{PREFIX}video/../video/720p-3000k/00001.m4s",
        f"/t/{good}/{PREFIX}video//720p-3000k/00001.m4s",
        f"/t/{good}/{PREFIX}missing.m4s",  # a miss
        f"/t/{good}",
        "/edge/report",
    ]
    for path in handed_over:
        assert not front.served(path), path
    assert not front.served(f"/t/{good}/{SEG_720}", "DELETE")
    assert front.served(f"/t/{sign(client_ip='127.0.0.1')}/{SEG_720}")


def test_traversal_never_reaches_a_file_outside_the_objects(front: Front) -> None:
    secret = front.objects.parent / "secret.txt"
    secret.write_bytes(b"secret")
    good = sign()
    for path in (
        f"{PREFIX}../../../secret.txt",
        f"{PREFIX}%2e%2e/%2e%2e/%2e%2e/secret.txt",
        f"{PREFIX}%252e%252e/%252e%252e/secret.txt",
        f"{PREFIX}..%5c..%5csecret.txt",
    ):
        status, by_nginx = front.get(f"/t/{good}/{path}")
        assert not by_nginx, path
        assert status in (400, 503), (path, status)  # nginx's own 400, or handed over


def test_a_height_cap_is_served_once_the_edge_has_opened_its_gate(front: Front) -> None:
    capped = sign(max_height=720)
    assert not front.served(f"/t/{capped}/{SEG_720}")  # not judged yet: the Python edge judges
    front.open_gate(SEG_720, 720)
    assert front.served(f"/t/{capped}/{SEG_720}")
    assert not front.served(f"/t/{capped}/{SEG_1080}")  # never allowed at 720: no gate
    assert not front.served(f"/t/{sign(max_height=1080)}/{SEG_720}")  # a gate per cap
    assert front.served(f"/t/{capped}/{PREFIX}thumb.jpg")  # in no rendition folder
    assert not front.served(f"/t/{sign(max_height='720')}/{SEG_720}")  # a cap is a number


def test_the_hit_log_reaches_the_reader(front: Front) -> None:
    good = sign()
    for _ in range(3):
        assert front.served(f"/t/{good}/{SEG_720}")
    assert not front.served(f"/t/{good}/{PREFIX}missing.m4s")
    deadline = time.monotonic() + 5
    hits: list[tuple[str, int]] = []
    while len(hits) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
        hits += front.front.read_hits()
    assert hits == [(SEG_720, len(BODY))] * 3


def test_the_key_is_in_no_file(front: Front) -> None:
    for path in front.config.root.rglob("*"):
        if path.is_file():
            assert KEY.hex().encode() not in path.read_bytes(), path


def test_a_front_that_cannot_listen_says_why(tmp_path: Path, front: Front) -> None:
    clash = Front(tmp_path / "second")
    clash.config = FrontConfig(**{**clash.config.__dict__, "port": front.config.port})
    clash.front = NginxFront(clash.config, KEY)
    with pytest.raises(EdgeFrontError, match="nginx"):
        asyncio.run(clash.front.start())


def test_choosing_a_front() -> None:
    assert choose("python") == "python"
    assert choose("nginx") == "nginx"
    assert choose("auto") == "nginx"  # make test installs nginx and its njs module
    with pytest.raises(EdgeFrontError, match="python, nginx, auto"):
        choose("apache")


def test_the_hit_log_reader_keeps_partial_lines_and_follows_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / "hits.log"
    log = HitLog(path, rotate_bytes=40)
    writer = path.open("ab")  # what nginx holds open
    writer.write(b"media/assets/a/1.m4s 100\nmedia/assets/a/2.m4s 2")
    writer.flush()
    assert log.read() == [("media/assets/a/1.m4s", 100)]
    writer.write(b"00\ngarbage\n")
    writer.flush()
    assert log.read() == [("media/assets/a/2.m4s", 200)]
    assert log.should_rotate()  # past 40 bytes: renamed
    assert not path.exists()
    writer.write(b"media/assets/a/3.m4s 300\n")  # nginx still writes the old file
    writer.flush()
    assert log.read() == []  # until nginx reopens, the old file is left to grow
    writer.close()
    path.write_bytes(b"media/assets/a/4.m4s 400\n")  # reopened: a new file
    assert log.read() == [("media/assets/a/3.m4s", 300), ("media/assets/a/4.m4s", 400)]
    assert not log.rotated.exists()
    assert log.read() == []


def test_the_edge_opens_a_gate_for_each_folder_and_cap_it_allows(tmp_path: Path) -> None:
    clock = FakeClock()
    store = DiskStore(tmp_path / "edge", 10_000_000, clock)
    store.open()
    gates = tmp_path / "gates"
    access = EdgeAccess(UrlSigner(KEY, clock), store, gates=gates)
    temp = store.temp_path()
    temp.write_bytes(MASTER)
    store.admit(PREFIX + "master.m3u8", temp, 1_750_000_000)
    access.check_rendition(Claims(PREFIX, 2**40, max_height=720), SEG_720)
    assert gate_path(gates, PREFIX, "video/720p-3000k", 720).is_file()
    with pytest.raises(RenditionNotAllowed):
        access.check_rendition(Claims(PREFIX, 2**40, max_height=720), SEG_1080)
    assert not gate_path(gates, PREFIX, "video/1080p-6000k", 720).exists()
    access.check_rendition(Claims(PREFIX, 2**40, max_height=1080), SEG_1080)
    assert gate_path(gates, PREFIX, "video/1080p-6000k", 1080).is_file()


def test_the_client_address_comes_from_x_forwarded_for_only_when_trusted(tmp_path: Path) -> None:
    bound = f"/t/{sign(client_ip='10.1.2.3')}/{SEG_720}"
    for trusted in (False, True):
        running = Front(tmp_path / str(trusted))
        running.config = FrontConfig(**{**running.config.__dict__, "trust_forwarded": trusted})
        running.front = NginxFront(running.config, KEY)
        asyncio.run(running.front.start())
        try:
            conn = http.client.HTTPConnection("127.0.0.1", running.config.port, timeout=5)
            conn.request("GET", bound, headers={"x-forwarded-for": "10.1.2.3, 192.0.2.1"})
            answer = conn.getresponse()
            answer.read()
            conn.close()
            assert (answer.getheader("x-edge-front") == "nginx") is trusted
        finally:
            asyncio.run(running.front.stop())


def test_nginx_hits_reach_the_policy_in_the_order_of_their_last_hit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = EdgeConfig(
        edge_id="e", root=tmp_path / "edge", capacity_bytes=300, policy="lru", front="nginx"
    )
    edge = Appliance(config, KEY, clock=FakeClock())
    edge.store.open()
    a, b, c = (f"{PREFIX}video/720p-3000k/{n}.m4s" for n in "abc")
    for key in (a, b):
        temp = edge.store.temp_path()
        temp.write_bytes(b"x" * 150)
        edge.store.admit(key, temp, 1_750_000_000)
    assert edge.front is not None
    monkeypatch.setattr(edge.front, "read_hits", lambda: [(a, 150), (b, 150), (a, 10)])
    assert edge.count_front_hits() == 3
    assert (edge.stats.hits, edge.store.peek(a) is not None) == (3, True)
    temp = edge.store.temp_path()
    temp.write_bytes(b"x" * 150)
    edge.store.admit(c, temp, 1_750_000_000)  # full: the least recently hit goes
    assert (a in edge.store, b in edge.store, c in edge.store) == (True, False, True)


def test_the_hit_log_is_rotated_under_a_running_nginx(front: Front) -> None:
    good = sign()
    front.front.hits = HitLog(front.config.hits_log, rotate_bytes=1)  # rotate at every read

    def collect(count: int) -> list[tuple[str, int]]:
        hits: list[tuple[str, int]] = []
        deadline = time.monotonic() + 10
        while len(hits) < count and time.monotonic() < deadline:
            time.sleep(0.2)
            hits += front.front.read_hits()
        return hits

    for round_ in range(3):  # each read renames the log and has nginx reopen it
        for _ in range(2):
            assert front.served(f"/t/{good}/{SEG_720}")
        assert collect(2) == [(SEG_720, len(BODY))] * 2, round_
    assert front.front.running


def test_nginx_says_how_many_requests_it_is_answering(front: Front) -> None:
    assert asyncio.run(front.front.in_flight()) == 0  # idle (its own status request left out)
    conn = http.client.HTTPConnection("127.0.0.1", front.config.port, timeout=5)
    try:  # a response nginx is still sending: 10 MB to a reader that does not read
        big = front.objects / PREFIX / "big.m4s"
        big.write_bytes(b"x" * 10_000_000)
        conn.request("GET", f"/t/{sign()}/{PREFIX}big.m4s")
        time.sleep(0.3)
        assert asyncio.run(front.front.in_flight()) == 1
    finally:
        conn.close()
