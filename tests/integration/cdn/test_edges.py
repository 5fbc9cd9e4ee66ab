"""Edge processes against a real origin: tiered fill and coalescing counted at the origin,
traversal against granian itself, discovery, and a killed edge with the client moving down its
ranked list."""

from __future__ import annotations

import http.client
import random
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
}
SEG1, SEG2, SEG3, SEG4, PLAYLIST = OBJECTS
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


@pytest.fixture
def edges(origin: Stack, request: pytest.FixtureRequest) -> Iterator[Edges]:
    """Two edges of one cluster (named after the test), seeing each other and the origin."""
    cluster = request.node.name.removeprefix("test_")[:40]
    names = [f"{cluster}-a", f"{cluster}-b"]
    a, b = (origin.edge(name, cluster=cluster) for name in names)
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


def get(base: str, key: str, headers: dict[str, str] | None = None) -> Answer:
    return request(base, f"/t/{token()}/{key}", headers=headers)


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
