"""A page on another origin uploads a master through tus in Chromium: the gateway's CORS policy
lets the allowed origin (the stack allows one studio page) create, resume, inspect and cancel
an upload with a bearer token and read tus's headers; a page on any other origin is refused
by the browser before its request is sent."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from playwright.sync_api import Browser

from matinee.testing.servers import pick_port

from .stack import ADMIN, PAGE_PORTS, Stack

PAGE = b"<!doctype html><meta charset=utf-8><title>A studio's upload page</title>"

# What a browser tus client does, by hand: create (POST), send half (PATCH), ask how far the
# server got (HEAD), cancel (DELETE). Every call carries non-safelisted headers, so each needs
# a preflight; the result also shows which tus headers the page could read.
UPLOAD = """
async ({base, token}) => {
  const auth = {"Authorization": "Bearer " + token, "Tus-Resumable": "1.0.0"};
  const meta = "filename " + btoa("cross-origin.mp4") + ",title " + btoa("Cross-origin upload");
  try {
    const created = await fetch(base + "/api/media/uploads", {
      method: "POST", headers: {...auth, "Upload-Length": "2000", "Upload-Metadata": meta}});
    const location = created.headers.get("Location");
    const url = new URL(location, base).href;
    const patched = await fetch(url, {method: "PATCH", body: new Uint8Array(1000).fill(7),
      headers: {...auth, "Content-Type": "application/offset+octet-stream",
                "Upload-Offset": "0"}});
    const head = await fetch(url, {method: "HEAD", headers: auth});
    const deleted = await fetch(url, {method: "DELETE", headers: auth});
    return {created: created.status, location: location !== null, patched: patched.status,
            offset: patched.headers.get("Upload-Offset"), head: head.status,
            headOffset: head.headers.get("Upload-Offset"),
            headLength: head.headers.get("Upload-Length"), deleted: deleted.status,
            requestId: created.headers.get("X-Request-Id") !== null, url};
  } catch (e) {
    return {error: e.name + ": " + e.message};
  }
}
"""


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def page_server(port: int) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def admin_token(stack: Stack) -> str:
    reply = httpx.post(
        stack.url("/api/identity/signin"),
        json={"email": ADMIN.email, "password": ADMIN.password},
        timeout=30,
    )
    reply.raise_for_status()
    token: str = reply.json()["token"]
    return token


def test_a_page_on_the_allowed_origin_uploads_and_any_other_is_refused(
    stack: Stack,
    browser: Browser,  # the stack first: it runs asyncio before Playwright's loop
) -> None:
    token = admin_token(stack)
    context = browser.new_context()
    try:
        page = context.new_page()
        with page_server(stack.studio_port) as studio:
            page.goto(studio)
            done = page.evaluate(UPLOAD, {"base": stack.base_url, "token": token})
        assert "error" not in done, done
        assert done.pop("url").startswith(stack.base_url + "/api/media/uploads/")
        assert done == {
            "created": 201,
            "location": True,
            "patched": 204,
            "offset": "1000",
            "head": 200,
            "headOffset": "1000",
            "headLength": "2000",
            "deleted": 204,
            "requestId": True,
        }
        with page_server(pick_port(*PAGE_PORTS)) as elsewhere:
            page.goto(elsewhere)
            refused = page.evaluate(UPLOAD, {"base": stack.base_url, "token": token})
        assert refused["error"].startswith("TypeError"), refused  # the browser refused it
    finally:
        context.close()
