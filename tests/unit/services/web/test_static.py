"""The web app's files and pages through the gateway: validators and 304, cache headers, the
pages of both apps (client-side routes), refused paths, and 503 while there is no build."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

from matinee.services.web.static import DIST, NOT_BUILT, dist_dir
from matinee.settings import Settings

from .stack import ADMIN, INDEX, VIEWER_JS, Stack, build_dist, running


def serve(settings: Settings, body: Callable[[Stack], Awaitable[None]]) -> None:
    async def main() -> None:
        async with running(settings) as stack:
            await body(stack)

    asyncio.run(main())


def test_the_build_is_found_in_the_checkout_unless_a_setting_says(tmp_path: Path) -> None:
    assert DIST.parts[-3:] == ("web", "app", "dist")
    assert (DIST.parents[2] / "src" / "matinee" / "services" / "web").is_dir()
    assert dist_dir(Settings(data_dir=tmp_path)) == DIST
    assert dist_dir(Settings(data_dir=tmp_path, web_dist=tmp_path / "x")) == tmp_path / "x"


def test_files_carry_validators_and_revalidate_with_304(tmp_path: Path) -> None:
    dist = build_dist(tmp_path / "dist")

    async def body(stack: Stack) -> None:
        first = await stack.front("/app/viewer.js")
        assert (first.status, first.body) == (200, VIEWER_JS)
        assert first.header("content-type") == "text/javascript; charset=utf-8"
        assert first.header("cache-control") == "public, max-age=60"
        etag = first.header("etag")
        assert etag is not None
        assert etag.startswith('"')
        assert first.header("last-modified")

        again = await stack.front("/app/viewer.js", if_none_match=etag)
        assert (again.status, again.body) == (304, b"")
        assert again.header("etag") == etag
        since = await stack.front(
            "/app/viewer.js", if_modified_since=first.header("last-modified") or ""
        )
        assert since.status == 304

        head = await stack.front("/app/viewer.js", "HEAD")
        assert (head.status, head.body) == (200, b"")
        assert head.header("content-length") == str(len(VIEWER_JS))

        part = await stack.front("/app/viewer.js", range="bytes=0-6")
        assert (part.status, part.body) == (206, VIEWER_JS[:7])

        css = await stack.front("/app/app.css")
        assert css.header("content-type") == "text/css; charset=utf-8"
        source_map = await stack.front("/app/viewer.js.map")
        assert source_map.header("content-type") == "application/json; charset=utf-8"

        # a new build: new validators, so the old tag no longer matches
        (dist / "viewer.js").write_bytes(VIEWER_JS + b"// rebuilt\n")
        stat = (dist / "viewer.js").stat()
        os.utime(dist / "viewer.js", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))
        rebuilt = await stack.front("/app/viewer.js", if_none_match=etag)
        assert rebuilt.status == 200
        assert rebuilt.body.endswith(b"// rebuilt\n")
        assert rebuilt.header("etag") != etag

    serve(Settings(data_dir=tmp_path, web_dist=dist), body)


def test_pages_of_the_viewer_and_the_console(tmp_path: Path) -> None:
    dist = build_dist(tmp_path / "dist")

    async def body(stack: Stack) -> None:
        for path in ("/", "/signin", "/title/tt-1", "/watch/tt-1", "/search?q=blue", "/account"):
            page = await stack.front(path)
            assert (page.status, page.body) == (200, INDEX), path
            assert page.header("content-type") == "text/html; charset=utf-8"
            assert page.header("cache-control") == "no-cache"
        for path in ("/admin", "/admin/", "/admin/jobs/j-1", "/admin/metrics"):
            page = await stack.front(path)
            assert (page.status, page.body) == (200, ADMIN), path
            assert page.header("cache-control") == "no-cache"
        page = await stack.front("/")
        assert (await stack.front("/", if_none_match=page.header("etag") or "")).status == 304
        # pages are only for GET and HEAD
        assert (await stack.front("/", "POST")).status == 405
        head = await stack.front("/admin/upload", "HEAD")
        assert (head.status, head.body) == (200, b"")
        assert head.header("content-length") == str(len(ADMIN))

    serve(Settings(data_dir=tmp_path, web_dist=dist), body)


def test_api_paths_and_odd_paths_are_not_pages(tmp_path: Path) -> None:
    dist = build_dist(tmp_path / "dist")
    (tmp_path / "secret.txt").write_text("not for the web")
    (dist / "escape.txt").symlink_to(tmp_path / "secret.txt")

    async def body(stack: Stack) -> None:
        not_pages = ("/api/nothing", "/internal/x", "/favicon.ico", "/viewer.js")
        for path in (*not_pages, "/app/missing.js", "/app/.built", "/app/"):
            answer = await stack.front(path)
            assert answer.status == 404, path
            assert answer.json()["error"] == "not_found"
        for path in ("/app/%2e%2e/secret.txt", "/app/%252e%252e/x", "/app/a%5c..%5cx"):
            answer = await stack.front(path)  # the gateway refuses some of them itself
            assert answer.status == 400, path
            assert b"not for the web" not in answer.body
            answer = await stack.direct("web", path)
            assert answer.status == 400, path
            assert answer.json()["error"] == "unsafe_path"
        escaped = await stack.front("/app/escape.txt")  # a link that leaves the build
        assert escaped.status == 404
        assert b"not for the web" not in escaped.body

    serve(Settings(data_dir=tmp_path, web_dist=dist), body)


def test_without_a_build_every_page_and_file_is_503(tmp_path: Path) -> None:
    dist = tmp_path / "dist"

    async def body(stack: Stack) -> None:
        for path in ("/", "/admin", "/admin/jobs", "/title/x", "/app/viewer.js"):
            answer = await stack.front(path)
            assert answer.status == 503, path
            assert answer.text == NOT_BUILT
            assert answer.header("content-type") == "text/plain; charset=utf-8"
        build_dist(dist)  # built while it runs: served at once
        assert (await stack.front("/")).status == 200
        (dist / "index.html").unlink()  # `npm run build` empties dist first
        assert (await stack.front("/")).text == NOT_BUILT
        shutil.rmtree(dist)
        assert (await stack.front("/app/app.css")).status == 503

    serve(Settings(data_dir=tmp_path, web_dist=dist), body)
