"""Every token and path-traversal case at the edge: 403 for a token that does not allow the
request, 400 for a path that is not plain, and nothing outside the edge's root ever touched."""

from __future__ import annotations

import asyncio
from pathlib import Path

from matinee.clock import FakeClock
from matinee.delivery.tokens import Claims, UrlSigner

from .harness import PREFIX, SEG_720, call, make_edge, make_platform, origin, running, signed, token

SECRET = b"a sentinel outside the edge's root"


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_tampered_expired_and_misdirected_tokens_get_403(tmp_path: Path) -> None:
    async def main() -> None:
        async with origin(make_platform(tmp_path)) as up:
            edge = make_edge(tmp_path / "edge", origins=[up.url])
            async with running(edge) as app:
                good = token()
                version, payload, signature = good.split(".")
                flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
                uncapped = UrlSigner(b"x" * 32, edge.clock).sign(Claims(PREFIX, 2**40))
                forged_payload = uncapped.split(".")[1]
                other_key = UrlSigner(b"another-key-altogether-0123456789", edge.clock)
                cases = {
                    f"{version}.{payload}.{flipped}": "token_invalid",
                    f"{version}.{forged_payload}.{signature}": "token_invalid",
                    good.replace("v1.", "v2.", 1): "token_invalid",
                    "not-a-token": "token_invalid",
                    f"{good}.extra": "token_invalid",
                    "v1.%%%.%%%": "token_invalid",
                    "x" * 3000: "token_invalid",
                    other_key.sign(Claims(PREFIX, 2**40)): "token_invalid",
                    token(ttl=-1): "token_expired",
                    token("media/assets/a2/"): "token_wrong_path",
                    token(ip="203.0.113.9"): "token_wrong_client",
                }
                for tok, code in cases.items():
                    for method in ("GET", "HEAD"):
                        answer = await call(app, method, f"/t/{tok}/{SEG_720}")
                        assert answer.status == 403, (tok, code, answer.body)
                        if method == "GET":
                            assert answer.json()["error"] == code, tok
                            assert answer.json()["message"][0].isupper()
                # A prefix is a folder: a1/ does not cover a10/.
                sibling = await call(app, "GET", f"/t/{good}/media/assets/a10/master.m3u8")
                assert sibling.json()["error"] == "token_wrong_path"
                bound = await call(app, "GET", signed(SEG_720, token(ip="127.0.0.1")))
                assert bound.status == 200
                assert up.counted.gets(SEG_720) == 1  # refused requests fetched nothing
                assert sum(up.counted.requests.values()) == 1

    asyncio.run(main())


def test_a_remembered_token_still_expires(tmp_path: Path) -> None:
    async def main() -> None:
        clock = FakeClock(start=2_000_000_000.0)
        async with origin(make_platform(tmp_path)) as up:
            edge = make_edge(tmp_path / "edge", origins=[up.url], clock=clock)
            async with running(edge) as app:
                tok = token(ttl=60, now=clock.time())
                assert (await call(app, "GET", signed(SEG_720, tok))).status == 200
                clock.advance(59)
                assert (await call(app, "GET", signed(SEG_720, tok))).status == 200
                clock.advance(1)
                late = await call(app, "GET", signed(SEG_720, tok))
                assert (late.status, late.json()["error"]) == (403, "token_expired")

    asyncio.run(main())


TRAVERSALS = [
    f"{PREFIX}../a2/master.m3u8",
    f"{PREFIX}../../../secret.txt",
    f"{PREFIX}../../../../secret.txt",
    f"{PREFIX}%2e%2e/a2/master.m3u8",
    f"{PREFIX}%2E%2E/%2e%2e/%2e%2e/secret.txt",
    f"{PREFIX}.%2e/.%2e/.%2e/.%2e/secret.txt",
    f"{PREFIX}%252e%252e/a2/master.m3u8",
    f"{PREFIX}%252e%252e%252f%252e%252e%252f%252e%252e%252fsecret.txt",
    f"{PREFIX}%25252e%25252e/secret.txt",
    f"{PREFIX}..%2f..%2f..%2f..%2fsecret.txt",
    f"{PREFIX}..%2F..%2F..%2F..%2Fsecret.txt",
    f"{PREFIX}video\\..\\..\\..\\..\\secret.txt",
    f"{PREFIX}video%5c..%5c..%5c..%5csecret.txt",
    f"{PREFIX}video%255c..%255csecret.txt",
    f"{PREFIX}%00.m4s",
    f"{PREFIX}video/720p-3000k/00001.m4s%00.txt",
    f"{PREFIX}%2500/x.m4s",
    f"{PREFIX}%c0%ae%c0%ae/%c0%ae%c0%ae/secret.txt",
    f"{PREFIX}./master.m3u8",
    f"{PREFIX}/master.m3u8",
    f"{PREFIX}video/%2f/secret.txt",
    f"{PREFIX}%0d%0aset-cookie:x",
    "%2fetc%2fpasswd",
    "",
]


def test_path_traversal_plain_encoded_and_double_encoded_gets_400(tmp_path: Path) -> None:
    async def main() -> None:
        root = tmp_path / "edge"
        async with origin(make_platform(tmp_path)) as up:
            edge = make_edge(root, origins=[up.url])
            async with running(edge) as app:
                # Sentinels where a naive join of the edge's root and these paths would land.
                for place in (tmp_path, root, root / "objects"):
                    (place / "secret.txt").write_bytes(SECRET)
                before = _files(tmp_path)
                tok = token()
                for path in TRAVERSALS:
                    for method in ("GET", "HEAD"):
                        answer = await call(app, method, f"/t/{tok}/{path}", pathsend=True)
                        assert answer.status == 400, (path, answer.status, answer.body)
                        assert answer.pathsend is None
                        assert SECRET not in answer.body
                        if method == "GET":
                            assert answer.json()["error"] == "unsafe_path", path
                    peer = await call(
                        app,
                        "GET",
                        f"/internal/edge/objects/{path}",
                        [("Authorization", f"Bearer {token('media/')}")],
                    )
                    assert peer.status == 400, (path, peer.status)
                assert (await call(app, "GET", "/t/")).status == 400
                assert (await call(app, "GET", f"/t/{tok}")).status == 400
                # Nothing was fetched, nothing was written, the sentinels are as they were.
                assert sum(up.counted.requests.values()) == 0
                assert _files(tmp_path) == before
                assert all(
                    (p / "secret.txt").read_bytes() == SECRET
                    for p in (tmp_path, root, root / "objects")
                )
                assert len(edge.store) == 0

    asyncio.run(main())


def test_only_packaged_assets_and_only_with_a_token(tmp_path: Path) -> None:
    async def main() -> None:
        async with origin(make_platform(tmp_path)) as up:
            edge = make_edge(tmp_path / "edge", origins=[up.url])
            async with running(edge) as app:
                masters = await call(app, "GET", f"/t/{token('masters/')}/masters/j1/source.mp4")
                assert masters.status == 404
                bare = await call(app, "GET", f"/t/{token('media/')}/media/other/x.m4s")
                assert bare.status == 404
                unsigned = await call(app, "GET", f"/{SEG_720}")
                assert unsigned.status == 404
                post = await call(app, "POST", signed(SEG_720))
                assert post.status == 405
                # A peer's request needs an edge's token for the folder.
                peer_path = f"/internal/edge/objects/{SEG_720}"
                assert (await call(app, "GET", peer_path)).status == 403
                wrong = [("Authorization", f"Bearer {token('media/assets/a2/')}")]
                assert (await call(app, "GET", peer_path, wrong)).status == 403
                assert sum(up.counted.requests.values()) == 0

    asyncio.run(main())
