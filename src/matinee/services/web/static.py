"""The built web app (``web/app/dist``): its files under ``/app/...`` and its pages.

* ``/app/<file>``: a file of the build, with an entity tag and ``Last-Modified`` so a browser
  revalidates with ``If-None-Match`` and gets 304 (the rules of :mod:`matinee.delivery.http`),
  ``Cache-Control: no-cache`` for HTML and a short ``max-age`` for scripts and styles (their
  names carry no content hash, so they may change at the next build);
* ``/admin`` and ``/admin/...``: the admin console's page (``admin.html``);
* any other page (``/``, ``/title/42``, ``/watch/42``...): the viewer's page (``index.html``);
  the app routes on the client with the History API. Paths of APIs and media (``/api/...``,
  ``/media/...``, ...) and of files (``/favicon.ico``) are never pages: a JSON 404 here.

Paths are checked before the disk is touched: one percent-decode must leave plain segments
(:func:`matinee.delivery.paths.safe_path`: no ``..``, no backslash, no leftover ``%``), no
segment may start with a dot, and the file found must still lie inside the build after links
are resolved. A file's bytes are kept in memory while its entity tag (modification time
and size) holds. When the build is missing (not built yet, or being rebuilt) the answer is 503
with a plain sentence saying how to build it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from matinee.delivery.errors import UnsafePath
from matinee.delivery.http import Answer, Representation, answer, conditional_headers
from matinee.delivery.paths import safe_path
from matinee.errors import MatineeError
from matinee.settings import Settings

# This file is src/matinee/services/web/static.py in a checkout; the app sits beside src.
DIST = Path(__file__).resolve().parents[4] / "web" / "app" / "dist"
Handler = Callable[..., Awaitable[Response]]

NOT_BUILT = "The web app is not built: run `make run` or `cd web/app && npm ci && npm run build`."
READ_INLINE = 64 * 1024  # files up to this size are read on the event loop (page cache)
KEEP_MAX = 16 * 1024 * 1024  # files up to this size are kept in memory while unchanged
HTML_CACHE = "no-cache"  # always revalidated: a new build is seen at once
ASSET_CACHE = "public, max-age=60"  # scripts and styles: unhashed names, so only briefly
VIEWER_PAGE = "index.html"
ADMIN_PAGE = "admin.html"
# First path segments that are never pages of the app (APIs, media, runtime endpoints).
NOT_PAGES = frozenset(
    {"api", "internal", "media", "t", "players", "app", "resilience", "faults", "gateway"}
)
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".wasm": "application/wasm",
}


def dist_dir(settings: Settings) -> Path:
    """Where the built app is: ``settings.web_dist``, else ``web/app/dist`` in the checkout."""
    return settings.web_dist if settings.web_dist is not None else DIST


class UnsafeAppPath(MatineeError):
    """A path that could leave the build (``..``, encoded or odd characters)."""

    code = "unsafe_path"


class NotBuilt(Exception):
    """The build is missing (never built, or a build is under way)."""


@dataclass(frozen=True, slots=True)
class StaticFile:
    """One file of the build and what is known of it before it is read."""

    path: Path
    representation: Representation


class WebApp:
    """Finds files of the build under ``root`` and describes them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._bytes: dict[Path, tuple[str, bytes]] = {}  # path: (entity tag, bytes)

    async def read(self, found: StaticFile) -> bytes | None:
        """The file's bytes, from memory while its entity tag holds; None when it changed or
        went since it was found (a build is under way)."""
        rep = found.representation
        cached = self._bytes.get(found.path)
        if cached is not None and cached[0] == rep.etag:
            return cached[1]
        try:  # a page is read at once; a large script on a thread, not blocking the loop
            if rep.size <= READ_INLINE:
                data = found.path.read_bytes()
            else:
                data = await run_in_threadpool(found.path.read_bytes)
        except FileNotFoundError:
            self._bytes.pop(found.path, None)
            return None
        if len(data) != rep.size:
            return None
        if rep.size <= KEEP_MAX:
            self._bytes[found.path] = (rep.etag, data)
        return data

    def find(self, relative: str) -> StaticFile | None:
        """The file at ``relative`` (already checked by :func:`safe_path`), or None; raises
        :class:`NotBuilt` when there is no build at all."""
        root = self.root.resolve()
        if not root.is_dir():
            raise NotBuilt(NOT_BUILT)
        target = (root / relative).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            return None
        stat = target.stat()
        suffix = posixpath.splitext(relative)[1].lower()
        rep = Representation(
            size=stat.st_size,
            mtime=int(stat.st_mtime),
            # nanoseconds: two builds within one second still differ
            etag=f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"',
            content_type=TYPES.get(suffix, "application/octet-stream"),
            cache_control=HTML_CACHE if suffix == ".html" else ASSET_CACHE,
        )
        return StaticFile(target, rep)

    def page(self, name: str) -> StaticFile:
        """One of the app's HTML pages; :class:`NotBuilt` when it is missing."""
        found = self.find(name)
        if found is None:
            raise NotBuilt(NOT_BUILT)
        return found


class FileResponse(Response):
    """An :class:`Answer` about a file, with its bytes (the build's files are small)."""

    def __init__(self, decided: Answer, body: bytes) -> None:
        self.status_code = decided.status
        self.decided = decided
        self.background = None
        self.body = b""
        self.data = body
        self.raw_headers = list(decided.headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        decided = self.decided
        await send(
            {"type": "http.response.start", "status": decided.status, "headers": self.raw_headers}
        )
        body = b""
        if decided.send_body:
            part = decided.range
            body = self.data if part is None else self.data[part.start : part.end + 1]
        await send({"type": "http.response.body", "body": body})


async def respond(app: WebApp, request: Request, found: StaticFile) -> Response:
    """The answer to a GET or HEAD of ``found``: 200, 206, 304, 412 or 416."""
    decided = answer(
        request.method, conditional_headers(request.scope["headers"]), found.representation
    )
    if not decided.send_body:
        return FileResponse(decided, b"")
    body = await app.read(found)
    if body is None:
        return not_built()  # removed or rewritten since it was found: a build is under way
    return FileResponse(decided, body)


def not_built() -> Response:
    return PlainTextResponse(
        NOT_BUILT, status_code=503, headers={"cache-control": "no-store", "retry-after": "10"}
    )


def checked(path: str) -> str:
    """``path`` if it may name a file of the build; :class:`UnsafeAppPath` (400) or a 404."""
    if not path:
        raise HTTPException(404, "There is no such file in the web app.")
    try:
        safe_path(path)
    except UnsafePath as exc:
        raise UnsafeAppPath(
            "A path of the web app is plain: no '.' or '..' segments, no '//', no backslash, "
            "no encoded characters."
        ) from exc
    if any(segment.startswith(".") for segment in path.split("/")):  # .built and the like
        raise HTTPException(404, "There is no such file in the web app.")
    return path


def router(app: WebApp) -> APIRouter:
    """The app's files and pages. Include it last: its page route matches every path."""
    api = APIRouter(tags=["web app"])

    def get_and_head(path: str, summary: str) -> Callable[[Handler], Handler]:
        """GET (documented) and HEAD (the same answer without the body) of ``path``."""

        def register(handler: Handler) -> Handler:
            api.head(path, include_in_schema=False)(handler)
            return api.get(path, summary=summary)(handler)

        return register

    @get_and_head("/app/{path:path}", "A file of the web app")
    async def app_file(path: str, request: Request) -> Response:
        """Scripts, styles, pages and source maps of the build, with validators."""
        try:
            found = app.find(checked(path))
        except NotBuilt:
            return not_built()
        if found is None:
            raise HTTPException(404, "There is no such file in the web app.")
        return await respond(app, request, found)

    async def page(name: str, request: Request) -> Response:
        try:
            found = app.page(name)
        except NotBuilt:
            return not_built()
        return await respond(app, request, found)

    @get_and_head("/admin", "The admin console")
    async def admin(request: Request) -> Response:
        """The admin console's page (the console asks who is signed in)."""
        return await page(ADMIN_PAGE, request)

    @get_and_head("/admin/{path:path}", "An admin page")
    async def admin_page(path: str, request: Request) -> Response:
        """Every page of the console is the console's HTML; it routes on the client."""
        del path
        return await page(ADMIN_PAGE, request)

    @get_and_head("/{path:path}", "A page of the viewer app")
    async def viewer_page(path: str, request: Request) -> Response:
        """Every other page is the viewer app's HTML; it routes on the client."""
        first = path.split("/", 1)[0]
        suffix = posixpath.splitext(path)[1].lower()
        if first in NOT_PAGES or (suffix in TYPES and suffix != ".html"):  # /favicon.ico
            raise HTTPException(404, f"Nothing answers /{path}.")
        return await page(VIEWER_PAGE, request)

    return api
