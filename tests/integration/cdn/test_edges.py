"""Edge processes against a real origin: tiered fill and coalescing counted at the origin,
traversal against granian and against nginx in front of it, discovery, and a killed edge with
the client moving down its ranked list. Every test runs with each front (python, nginx)."""

from __future__ import annotations

import functools
import http.client
import os
import random
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from matinee.platform import Platform
from matinee.settings import Settings

from .harness import Answer, Stack, request, token, wait_for

PREFIX = "media/assets/t1/"
OBJECTS = {
    f"{PREFIX}video/720p/00001.m4s": random.Random(1).randbytes(1_048_576),
    f"{PREFIX}video/720p/00002.m4s": random.Random(2).randbytes(100_000),
    f"{PREFIX}video/720p/00003.m4s": random.Random(3).randbytes(300_000),
    f"{PREFIX}video/720p/00004.m4s": random.Random(4).randbytes(200_000),
    f"{PREFIX}video/720p/index.m3u8": b"#EXTM3U\n#EXTINF:4,\n00001.m4s\n",
    f"{PREFIX}master.m3u8": (
        b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720\nvideo/720p/index.m3u8\n"
    ),
}
SEG1, SEG2, SEG3, SEG4, PLAYLIST, MASTER = OBJECTS
SECRET = b"a sentinel outside every edge's root"


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A registry and the origin, shared by this module's tests (each brings its own edges)."""
    tmp = tmp_path_factory.mktemp("cdn")
    platform = Platform(Settings(data_dir=tmp / "data"))
    for key, body in OBJECTS.items():
        platform.objects.put_bytes(key.removeprefix("media/"), body)
    running = Stack(tmp)
    try:
        running.instance("registry")
        running.ready("registry", "/healthz")
        running.instance("media")
        running.ready("media")
        yield running
    finally:
        running.close()


@dataclass
class Edges:
    stack: Stack
    a: str
    b: str
    cluster: str
    fetched_before: float

    def origin_fetches(self) -> float:
        """Origin fetches since this test's edges started."""
        return self.stack.origin_fetches() - self.fetched_before


@pytest.fixture(params=["python", "nginx"])
def edges(origin: Stack, request: pytest.FixtureRequest) -> Iterator[Edges]:
    """Two edges of one cluster (named after the test and the front serving hits), seeing each
    other and the origin: granian serves everything, or nginx serves hits in front of it."""
    front: str = request.param
    cluster = f"{request.node.originalname.removeprefix('test_')[:32]}-{front}"
    names = [f"{cluster}-a", f"{cluster}-b"]
    a, b = (origin.edge(name, cluster=cluster, front=front) for name in names)
    try:
        for name in names:
            origin.ready(name)
        wait_for("the edges seeing each other and the origin", lambda: _know(origin, a, b))
        yield Edges(origin, a, b, cluster, origin.origin_fetches())
    finally:
        origin.close(names)


def _know(stack: Stack, a: str, b: str) -> bool:
    for me, peer in ((a, b), (b, a)):
        known = request(me, "/edge/report").json()["upstream"]
        if known["peers"] != [peer] or known["origins"] != [stack.urls["media"]]:
            return False
    return True


@functools.cache
def session_token() -> str:
    """One token for all of a test run's plain fetches, as a player holds one for a session
    (signed when first used, for longer than the suite runs)."""
    return token(ttl=4 * 3600)


def get(base: str, key: str, headers: dict[str, str] | None = None) -> Answer:
    return request(base, f"/t/{session_token()}/{key}", headers=headers)


def test_misses_coalesce_and_fill_from_the_peer_before_the_origin(edges: Edges) -> None:
    a, b, stack = edges.a, edges.b, edges.stack
    with ThreadPoolExecutor(max_workers=30) as pool:
        answers = list(pool.map(lambda _: get(a, SEG1), range(30)))
    assert {x.status for x in answers} == {200}
    assert all(x.body == OBJECTS[SEG1] for x in answers)
    assert edges.origin_fetches() == 1  # thirty concurrent misses, one upstream fetch

    from_peer = get(b, SEG1)
    assert (from_peer.status, from_peer.headers["x-cache"]) == (200, "MISS")
    assert from_peer.body == OBJECTS[SEG1]
    assert edges.origin_fetches() == 1  # b filled from a, its peer
    report_b = request(b, "/edge/report").json()
    assert report_b["upstream"]["peer"]["fetches"] == 1
    assert report_b["upstream"]["origin"]["fetches"] == 0

    # Not held by the peer: the peer says so (it never fills for a peer); the origin serves.
    assert get(b, SEG2).status == 200
    assert edges.origin_fetches() == 2
    report_a = request(a, "/edge/report").json()
    assert report_a["inventory"] == {PREFIX: len(OBJECTS[SEG1])}

    # The same validators everywhere: a client switching hosts revalidates, not refetches.
    direct = request(stack.urls["media"], f"/t/{token()}/{SEG1}", "HEAD")
    hit_a, hit_b = get(a, SEG1), get(b, SEG1)
    assert hit_a.headers["x-cache"] == hit_b.headers["x-cache"] == "HIT"
    assert hit_a.headers["etag"] == hit_b.headers["etag"] == direct.headers["etag"]
    assert hit_a.headers["last-modified"] == direct.headers["last-modified"]
    assert get(b, SEG1, {"if-none-match": direct.headers["etag"]}).status == 304
    ranged = get(a, SEG1, {"range": "bytes=100-199"})
    assert (ranged.status, ranged.body) == (206, OBJECTS[SEG1][100:200])

    registered = stack.edges_registered(edges.cluster)
    assert set(registered) == {f"{edges.cluster}-a", f"{edges.cluster}-b"}
    mine = registered[f"{edges.cluster}-a"]
    assert (mine["region"], mine["public_url"]) == ("r1", a)


TRAVERSALS = [
    f"{PREFIX}../../../secret.txt",
    f"{PREFIX}..%2f..%2f..%2fsecret.txt",
    f"{PREFIX}%2e%2e/%2e%2e/%2e%2e/secret.txt",
    f"{PREFIX}%252e%252e/%252e%252e/%252e%252e/secret.txt",
    f"{PREFIX}video%5c..%5c..%5c..%5csecret.txt",
    f"{PREFIX}%00/secret.txt",
    f"{PREFIX}/../secret.txt",
]


def test_traversal_at_a_real_edge_is_400_and_touches_nothing(edges: Edges) -> None:
    stack = edges.stack
    root = stack.tmp / "edges" / f"{edges.cluster}-a"
    for place in (stack.tmp, root.parent, root, root / "objects"):
        (place / "secret.txt").write_bytes(SECRET)
    for path in TRAVERSALS:
        answer = request(edges.a, f"/t/{token()}/{path}")
        assert answer.status == 400, (path, answer.status, answer.body)
        assert SECRET not in answer.body
    raw_backslash = request(edges.a, f"/t/{token()}/{PREFIX}..\\..\\..\\secret.txt")
    assert raw_backslash.status == 400
    assert edges.origin_fetches() == 0
    assert request(edges.a, "/edge/report").json()["objects"] == 0
    assert (stack.tmp / "secret.txt").read_bytes() == SECRET


def fetch_down_the_list(bases: list[str], key: str) -> tuple[str, Answer]:
    """What a player does: the first host on the ranked list that answers, else the next."""
    problems = []
    for base in bases:
        try:
            answer = get(base, key)
        except (OSError, http.client.HTTPException) as exc:
            problems.append(f"{base}: {exc}")
            continue
        if answer.status < 500:
            return base, answer
        problems.append(f"{base}: {answer.status}")
    raise AssertionError(f"no host served {key}: {problems}")


def test_a_killed_edge_and_the_next_on_the_list_serves(edges: Edges) -> None:
    a, b, stack = edges.a, edges.b, edges.stack
    origin = stack.urls["media"]
    ranked = [a, b, origin]
    for key in (SEG1, SEG2):
        served_by, answer = fetch_down_the_list(ranked, key)
        assert (served_by, answer.status, answer.body) == (a, 200, OBJECTS[key])

    stack.kill(f"{edges.cluster}-a")  # SIGKILL: no goodbye, no deregistration
    for key in (SEG1, SEG3, PLAYLIST):
        served_by, answer = fetch_down_the_list(ranked, key)
        assert (served_by, answer.status, answer.body) == (b, 200, OBJECTS[key])
        assert answer.headers["x-served-by"] == f"{edges.cluster}-b"
    # b's peer is gone: b filled from the origin after one failed try.
    report = request(b, "/edge/report").json()
    assert report["upstream"]["origin"]["fetches"] == 3

    # The registry lets the dead edge's lease run out (2 s here).
    wait_for(
        "the registry forgetting the killed edge",
        lambda: list(stack.edges_registered(edges.cluster)) == [f"{edges.cluster}-b"],
        15,
    )
    # SIGTERM: b leaves discovery at once and exits cleanly; then the origin serves.
    assert stack.terminate(f"{edges.cluster}-b") == 0
    assert stack.edges_registered(edges.cluster) == {}
    served_by, answer = fetch_down_the_list(ranked, SEG4)
    assert (served_by, answer.status, answer.body) == (origin, 200, OBJECTS[SEG4])
    assert answer.headers["access-control-allow-origin"] == "*"


def by_nginx(answer: Answer) -> bool:
    return answer.headers.get("x-edge-front") == "nginx"


def _nginx_hits(edge: str, name: str) -> None:
    miss = get(edge, SEG1)
    assert (miss.status, miss.headers["x-cache"], by_nginx(miss)) == (200, "MISS", False)
    hit = get(edge, SEG1)
    assert (hit.status, hit.headers["x-cache"], by_nginx(hit)) == (200, "HIT", True)
    assert hit.body == OBJECTS[SEG1]
    assert hit.headers["content-type"] == "video/iso.segment"
    assert hit.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert hit.headers["access-control-allow-origin"] == "*"
    assert hit.headers["etag"] == miss.headers["etag"]
    assert hit.headers["last-modified"] == miss.headers["last-modified"]
    assert hit.headers["x-served-by"] == name
    ranged = get(edge, SEG1, {"range": "bytes=100-199"})
    assert (ranged.status, ranged.body, by_nginx(ranged)) == (206, OBJECTS[SEG1][100:200], True)
    assert get(edge, SEG1, {"range": "bytes=0-1,5-6"}).body == OBJECTS[SEG1]  # one range only
    assert get(edge, SEG1, {"if-none-match": hit.headers["etag"]}).status == 304
    head = request(edge, f"/t/{session_token()}/{SEG1}", "HEAD")
    assert (head.status, head.body, head.headers["content-length"]) == (200, b"", "1048576")


def _python_refusals(edge: str) -> None:
    """Refusals are the Python edge's, in plain words."""
    good = token()
    tampered = good[:-2] + ("AA" if good[-2:] != "AA" else "BB")
    for bad, words in (
        (tampered, "altered"),
        (token(ttl=-5), "expired"),
        (token("media/assets/other/"), "does not cover"),
        (token(client_ip="10.9.8.7"), "another network address"),
    ):
        answer = request(edge, f"/t/{bad}/{SEG1}")
        assert (answer.status, by_nginx(answer)) == (403, False), bad
        assert words in answer.json()["message"]
    bound = f"/t/{token(client_ip='127.0.0.1')}/{SEG1}"
    first, again = request(edge, bound), request(edge, bound)
    assert (first.status, by_nginx(first)) == (200, False)  # the Python edge grants it
    assert (again.status, by_nginx(again)) == (200, True)  # to nginx for the next ones


def _height_cap(edge: str) -> None:
    """The Python edge judges a token in a folder once (at a cap, from the master), then nginx
    serves it."""
    low = request(edge, f"/t/{token(max_height=480)}/{SEG1}")
    assert (low.status, by_nginx(low)) == (403, False)
    assert "480" in low.json()["message"]
    capped = token(max_height=1080)
    first = request(edge, f"/t/{capped}/{SEG1}")
    assert (first.status, first.body) == (200, OBJECTS[SEG1])
    again = request(edge, f"/t/{capped}/{SEG1}")
    assert (again.status, by_nginx(again)) == (200, True)
    assert request(edge, f"/t/{token(max_height=480)}/{SEG1}").status == 403
    manifest = request(edge, f"/t/{capped}/{MASTER}")  # manifests: the Python edge
    assert (manifest.status, by_nginx(manifest)) == (200, False)


def test_nginx_serves_the_hits_and_the_python_edge_everything_else(origin: Stack) -> None:
    name = "front-nginx"
    edge = origin.edge(name, cluster="front", front="nginx")
    try:
        origin.ready(name)
        _nginx_hits(edge, name)
        _python_refusals(edge)
        _height_cap(edge)

        # nginx's hits reach the report (and the eviction policy) through its access log.
        served = 9  # hit, range, two ranges, 304, HEAD, bound again, capped again, two below
        get(edge, SEG1)
        get(edge, SEG1)
        wait_for(
            "nginx's hits counted by the edge",
            lambda: request(edge, "/edge/report").json()["hits"] >= served,
            10,
        )
        assert request(edge, "/edge/report").json()["front"] == {
            "kind": "nginx",
            "restarts": 0,
            "grants": 3,  # the session's, the address-bound and the capped token, one folder
            "grants_refused": 0,
        }

        # nginx killed on its own: the edge starts it again.
        pid = int((origin.tmp / "edges" / name / "front" / "nginx.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        wait_for("nginx started again", lambda: by_nginx(get(edge, SEG1)), 15)
        assert request(edge, "/edge/report").json()["front"]["restarts"] == 1

        # SIGTERM: the edge and its nginx both go; nothing keeps the port.
        assert origin.terminate(name) == 0
        with pytest.raises(ConnectionRefusedError):
            request(edge, "/healthz")
    finally:
        origin.close([name])
