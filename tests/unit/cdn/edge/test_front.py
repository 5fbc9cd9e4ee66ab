"""nginx in front of an edge: what nginx serves from disk itself (a plain request the Python edge
has granted; everything else is handed to the Python edge), the grants, and the hit log the
edge reads back.

The decision tests run a real nginx with nothing behind it: a request nginx serves answers 200
with ``x-edge-front: nginx``; one it hands over gets the front's own 503 (no Python edge here),
so every case shows which way nginx went without the Python edge's answer blurring it."""

from __future__ import annotations

import asyncio
import http.client
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from matinee.cdn.edge import Appliance, EdgeConfig
from matinee.cdn.edge import front as front_module
from matinee.cdn.edge.front import (
    GRANT_MARGIN_S,
    EdgeFrontError,
    FrontConfig,
    Grants,
    HitLog,
    NginxFront,
    choose,
    free_port,
)
from matinee.clock import FakeClock, SystemClock
from matinee.delivery.tokens import Claims, UrlSigner

from .harness import PREFIX, SEG_720, SEG_1080

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
        self.front = NginxFront(self.config)

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

    def grant(self, token: str, key: str, address: str = "127.0.0.1") -> None:
        """What the Python edge does once it has allowed ``token`` to fetch ``key`` from
        ``address``."""
        granted = self.front.grants.grant(address, token, key, int(time.time()) + 600, time.time())
        assert granted, (token, key)


@pytest.fixture
def front(tmp_path: Path) -> Iterator[Front]:
    running = Front(tmp_path)
    asyncio.run(running.front.start())
    try:
        yield running
    finally:
        asyncio.run(running.front.stop())


def test_nginx_serves_only_plain_requests_the_python_edge_has_granted(front: Front) -> None:
    good = sign()
    assert not front.served(f"/t/{good}/{SEG_720}")  # not granted yet: the Python edge judges
    front.grant(good, SEG_720)
    assert front.served(f"/t/{good}/{SEG_720}")
    assert front.served(f"/t/{good}/{SEG_720}", "HEAD")
    for name in ("init.mp4", "playlist.m3u8"):
        (front.objects / PREFIX / "video/720p-3000k" / name).write_bytes(BODY)
    assert front.served(f"/t/{good}/{PREFIX}video/720p-3000k/init.mp4")  # the same folder
    version, payload, signature = good.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    handed_over = [
        f"/t/{version}.{payload}.{flipped}/{SEG_720}",  # altered signature: another token
        f"/t/{sign(ttl=900)}/{SEG_720}",  # another token, even a good one, until granted
        f"/t/{good}/{SEG_1080}",  # another folder
        f"/t/{good}/{PREFIX}thumb.jpg",  # the title's own folder is a folder too
        f"/t/{good}/{PREFIX}video/720p-3000k/playlist.m3u8",  # manifests: cut by the Python edge
        f"/t/{good}/{SEG_720}?x=1",
        f"/t/{good}/{PREFIX}video/720p-3000k/%30%30001.m4s",  # any percent-encoding
        f"/t/{good}/{PREFIX}video/../video/720p-3000k/00001.m4s",
        f"/t/{good}/{PREFIX}video/./720p-3000k/00001.m4s",
        f"/t/{good}/{PREFIX}video//720p-3000k/00001.m4s",
        f"/t/{good}/{PREFIX}video/720p-3000k/missing.m4s",  # granted, but a miss
        f"/t/{good}.extra/{SEG_720}",
        f"/t/{good}",
        "/edge/report",
    ]
    for path in handed_over:
        assert not front.served(path), path
    assert not front.served(f"/t/{good}/{SEG_720}", "DELETE")
    other = sign(ttl=1200)
    front.grant(other, SEG_720, address="10.1.2.3")
    assert not front.served(f"/t/{other}/{SEG_720}")  # granted to another client


def test_traversal_never_reaches_a_file_outside_the_objects(front: Front) -> None:
    secret = front.objects.parent / "secret.txt"
    secret.write_bytes(b"secret")
    good = sign()
    front.grant(good, SEG_720)
    front.grant(good, PREFIX + "thumb.jpg")
    for path in (
        f"{PREFIX}../../../secret.txt",
        f"{PREFIX}%2e%2e/%2e%2e/%2e%2e/secret.txt",
        f"{PREFIX}%252e%252e/%252e%252e/secret.txt",
        f"{PREFIX}..%5c..%5csecret.txt",
        f"{PREFIX}video/720p-3000k/../../../../secret.txt",
    ):
        status, by_nginx = front.get(f"/t/{good}/{path}")
        assert not by_nginx, path
        assert status in (400, 503), (path, status)  # nginx's own 400, or handed over


def test_grants_are_made_only_where_nginx_could_use_them_and_go_before_the_token(
    tmp_path: Path,
) -> None:
    grants = Grants(tmp_path / "grants", limit=3)
    grants.reset()
    token, now = sign(), 1_000_000.0
    expires = int(now + 60)
    assert grants.grant("127.0.0.1", token, SEG_720, expires, now)
    assert grants.path("127.0.0.1", token, PREFIX + "video/720p-3000k/").is_file()
    assert grants.grant("127.0.0.1", token, PREFIX + "video/720p-3000k/init.mp4", expires, now)
    assert len(grants) == 1  # one per folder
    refused = [
        (None, token, SEG_720),  # no client address
        ("../../etc", token, SEG_720),  # not an address: never a path
        ("..", token, SEG_720),
        ("1.2.3", token, SEG_720),
        (":::::", token, SEG_720),
        ("127.0.0.1", "../" + token, SEG_720),
        ("127.0.0.1", "x" * 300, SEG_720),  # not a token's shape (nor a file name's length)
        ("127.0.0.1", token, PREFIX + "master.m3u8"),  # manifests stay with the Python edge
        ("127.0.0.1", token, PREFIX + "video/../x.m4s"),
        ("127.0.0.1", token, "etc/passwd"),
    ]
    for address, tok, path in refused:
        assert not grants.grant(address, tok, path, expires, now), (address, tok, path)
    assert not grants.grant("127.0.0.1", token, SEG_1080, int(now + GRANT_MARGIN_S), now)
    assert grants.grant("::1", token, SEG_1080, expires, now)
    assert grants.grant("::1", token, PREFIX + "thumb.jpg", expires, now)
    assert not grants.grant("::1", token, PREFIX + "audio/en/1.m4s", expires, now)  # limit: 3
    assert grants.refused == 1
    assert grants.sweep(expires - GRANT_MARGIN_S - 1) == 0
    assert grants.sweep(expires - GRANT_MARGIN_S) == 3  # before the token expires
    assert len(grants) == 0
    assert list((tmp_path / "grants").iterdir()) == []


def test_grants_go_in_order_of_expiry_whatever_order_they_came_in(tmp_path: Path) -> None:
    grants = Grants(tmp_path / "grants")
    grants.reset()
    now = 1_000_000.0
    tokens = {ttl: sign(ttl=ttl) for ttl in (300, 100, 600)}
    for ttl, token in tokens.items():
        assert grants.grant("10.0.0.1", token, SEG_720, int(now + ttl), now)
    assert grants.sweep(now) == 0
    assert grants.sweep(now + 100 - GRANT_MARGIN_S) == 1
    assert grants.sweep(now + 300 - GRANT_MARGIN_S) == 1
    assert not grants.path("10.0.0.1", tokens[300], PREFIX + "video/720p-3000k/").exists()
    assert grants.path("10.0.0.1", tokens[600], PREFIX + "video/720p-3000k/").is_file()
    assert len(grants) == 1
    assert grants.sweep(now + 600) == 1
    assert len(grants) == 0


def test_grants_are_bounded_per_token_and_address_and_never_raise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(front_module, "MAX_FOLDERS_PER_TOKEN", 2)
    monkeypatch.setattr(front_module, "MAX_TOKENS_PER_ADDRESS", 2)
    grants = Grants(tmp_path / "grants")
    grants.reset()
    now = 1_000_000.0
    expires = int(now + 600)
    one, two, three = (sign(ttl=600 + n) for n in range(3))
    folder = PREFIX + "video/{}/1.m4s"
    assert grants.grant("10.0.0.1", one, folder.format("a"), expires, now)
    assert grants.grant("10.0.0.1", one, folder.format("b"), expires, now)
    assert not grants.grant("10.0.0.1", one, folder.format("c"), expires, now)  # 2 a token
    assert grants.grant("10.0.0.1", two, folder.format("a"), expires, now)
    assert not grants.grant("10.0.0.1", three, folder.format("a"), expires, now)  # 2 an address
    assert grants.grant("10.0.0.2", three, folder.format("a"), expires, now)
    assert grants.describe() == {"grants": 4, "grants_refused": 2}
    deep = PREFIX + "a/" * 9 + "1.m4s"  # folders are at most 8 deep below media/assets/
    long = PREFIX + "x" * 101 + "/1.m4s"  # and segments at most 100 characters long
    assert not grants.grant("10.0.0.2", three, deep, expires, now)
    assert not grants.grant("10.0.0.2", three, long, expires, now)
    # A grant deleted from under the edge is made again at its next request.
    made = grants.path("10.0.0.1", one, PREFIX + "video/a/")
    made.unlink()
    assert grants.grant("10.0.0.1", one, folder.format("a"), expires, now)
    assert made.is_file()
    # A disk that refuses: no grant, no exception (the Python edge serves it).
    (tmp_path / "grants" / "10.0.0.3").write_text("not a folder")
    assert not grants.grant("10.0.0.3", one, folder.format("a"), expires, now)
    assert len(grants) == 4


def test_grants_that_cannot_be_removed_take_every_grant_with_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grants = Grants(tmp_path / "grants")
    grants.reset()
    now = 1_000_000.0
    soon, later = sign(ttl=10), sign(ttl=900)
    assert grants.grant("10.0.0.1", soon, SEG_720, int(now + 10), now)
    assert grants.grant("10.0.0.1", later, SEG_720, int(now + 900), now)
    real_rmtree = shutil.rmtree

    def failing(path: Path, ignore_errors: bool = False) -> None:
        if soon in str(path):
            raise PermissionError(13, "Permission denied", str(path))
        real_rmtree(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(shutil, "rmtree", failing)
    assert grants.sweep(now + 10) == 2  # fails closed: nginx serves nothing it cannot unserve
    assert len(grants) == 0
    assert not grants.path("10.0.0.1", later, PREFIX + "video/720p-3000k/").exists()
    assert (tmp_path / "grants").is_dir()


def test_housekeeping_sweeps_grants_first_whatever_else_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(1_000_000.0)
    config = EdgeConfig(edge_id="e", root=tmp_path / "edge", capacity_bytes=10**6, front="nginx")
    edge = Appliance(config, KEY, clock=clock)
    assert edge.front is not None
    grants = edge.front.grants
    grants.reset()
    assert grants.grant("10.0.0.1", sign(), SEG_720, int(clock.time() + 60), clock.time())

    def broken() -> None:
        raise RuntimeError("the store is broken")

    monkeypatch.setattr(edge.store, "sweep", broken)
    clock.advance(60)

    async def run() -> None:
        task = asyncio.create_task(edge._keep_house())
        await asyncio.sleep(2.5)  # two rounds: the loop outlives the failure
        assert not task.done()
        task.cancel()

    asyncio.run(run())
    assert len(grants) == 0


def test_the_hit_log_reaches_the_reader(front: Front) -> None:
    good = sign()
    front.grant(good, SEG_720)
    for _ in range(3):
        assert front.served(f"/t/{good}/{SEG_720}")
    assert not front.served(f"/t/{good}/{PREFIX}missing.m4s")
    deadline = time.monotonic() + 5
    hits: list[tuple[str, int]] = []
    while len(hits) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
        hits += front.front.read_hits()
    assert hits == [(SEG_720, len(BODY))] * 3


def test_nginx_is_never_given_the_signing_key(front: Front) -> None:
    for path in front.config.root.rglob("*"):
        if path.is_file():
            assert KEY.hex().encode() not in path.read_bytes(), path
            assert KEY not in path.read_bytes(), path


def test_a_front_that_cannot_listen_says_why(tmp_path: Path, front: Front) -> None:
    clash = Front(tmp_path / "second")
    clash.config = FrontConfig(**{**clash.config.__dict__, "port": front.config.port})
    clash.front = NginxFront(clash.config)
    with pytest.raises(EdgeFrontError, match="nginx"):
        asyncio.run(clash.front.start())


def test_choosing_a_front() -> None:
    assert choose("python") == "python"
    assert choose("nginx") == "nginx"
    assert choose("auto") == "nginx"  # make test installs nginx
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


def test_the_client_address_comes_from_x_forwarded_for_only_when_trusted(tmp_path: Path) -> None:
    bound = f"/t/{sign(client_ip='10.1.2.3')}/{SEG_720}"
    for trusted in (False, True):
        running = Front(tmp_path / str(trusted))
        running.config = FrontConfig(**{**running.config.__dict__, "trust_forwarded": trusted})
        running.front = NginxFront(running.config)
        asyncio.run(running.front.start())
        running.grant(bound.split("/")[2], SEG_720, address="10.1.2.3")
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
    front.grant(good, SEG_720)
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
        token = sign()
        front.grant(token, PREFIX + "big.m4s")
        conn.request("GET", f"/t/{token}/{PREFIX}big.m4s")
        time.sleep(0.3)
        assert asyncio.run(front.front.in_flight()) == 1
    finally:
        conn.close()
