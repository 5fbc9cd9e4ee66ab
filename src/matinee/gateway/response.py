"""The gateway's own response object and the header rules every hop applies."""

from __future__ import annotations

import json
from collections.abc import Iterable

# RFC 9110 7.6.1: connection-specific headers never travel past one hop. ``host`` and
# ``content-length`` are recomputed by whoever sends the next message.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
RECOMPUTED = frozenset({"host", "content-length"})
# Set by the server that sends the gateway's answer; the upstream's copies would repeat them.
SERVER_SET = frozenset({"date", "server"})

JSON_TYPE = "application/json"


class GatewayResponse:
    """A complete response: status, headers (lower-case names) and body."""

    __slots__ = ("body", "headers", "status")

    def __init__(
        self, status: int, headers: list[tuple[str, str]] | None = None, body: bytes = b""
    ) -> None:
        self.status = status
        self.headers = headers if headers is not None else []
        self.body = body

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def set_header(self, name: str, value: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k != name]
        self.headers.append((name, value))

    def json(self) -> object:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"GatewayResponse({self.status}, {len(self.body)} bytes)"


def json_response(
    status: int, value: object, headers: Iterable[tuple[str, str]] = ()
) -> GatewayResponse:
    body = json.dumps(value, separators=(",", ":")).encode()
    return GatewayResponse(status, [("content-type", JSON_TYPE), *headers], body)


def strip_hop_by_hop(
    headers: Iterable[tuple[str, str]], also: frozenset[str] = frozenset()
) -> list[tuple[str, str]]:
    """Drop connection-specific headers, including any the ``connection`` header names.

    Names come back lower-case, whatever case the sender used.
    """
    headers = [(k.lower(), v) for k, v in headers]
    named: set[str] = set()
    for k, v in headers:
        if k == "connection":
            named.update(t.strip().lower() for t in v.split(","))
    return [
        (k, v)
        for k, v in headers
        if k not in HOP_BY_HOP and k not in RECOMPUTED and k not in also and k not in named
    ]


def passthrough_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """An upstream answer's headers as the client should get them."""
    return strip_hop_by_hop(headers, SERVER_SET)
