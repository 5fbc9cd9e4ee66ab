"""Opaque cursors for paginated lists.

A cursor is URL-safe base64 of a small JSON object: which list it belongs to (``list``, e.g.
``"titles:newest"`` or ``"search:<hash of the query>"``) and where the next page starts
(``after``: the sort key of the last item given out, or an offset for ranked search results).
A cursor from one list is refused by another, and a damaged one is refused in plain words;
either is the caller's mistake (HTTP 400).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from matinee.services.catalog.errors import InvalidCursor

T = TypeVar("T")
Key = list[str | int]

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_INT = 2**31 - 1  # every integer in a key fits a 32-bit column
MAX_STRING = 400


def encode_cursor(kind: str, after: Key) -> str:
    raw = json.dumps({"list": kind, "after": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, kind: str) -> Key:
    """The ``after`` key of a cursor that :func:`encode_cursor` made for list ``kind``."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise InvalidCursor("cursor: this is not a cursor this service gave out.") from exc
    if not isinstance(data, dict) or not isinstance(data.get("after"), list):
        raise InvalidCursor("cursor: this is not a cursor this service gave out.")
    if data.get("list") != kind:
        raise InvalidCursor(
            "cursor: this cursor belongs to another list or order; start again without it."
        )
    after: Key = []
    for value in data["after"]:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise InvalidCursor("cursor: this is not a cursor this service gave out.")
        if isinstance(value, int) and not -MAX_INT <= value <= MAX_INT:
            raise InvalidCursor("cursor: this is not a cursor this service gave out.")
        if isinstance(value, str) and ("\x00" in value or len(value) > MAX_STRING):
            raise InvalidCursor("cursor: this is not a cursor this service gave out.")
        after.append(value)
    return after


def query_kind(prefix: str, *parts: object) -> str:
    """A list name bound to a query: a cursor of one search is refused by another."""
    digest = hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]
    return f"{prefix}:{digest}"


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of items and the cursor of the next (None on the last page)."""

    items: list[T]
    next_cursor: str | None


def page_of(rows: Sequence[T], limit: int, kind: str, key: Callable[[T], Key]) -> Page[T]:
    """Cut ``rows`` (up to ``limit + 1`` of them) into a page; ``key`` gives the sort key of
    the page's last item, which the next page starts after."""
    items = list(rows[:limit])
    if len(rows) > limit and items:
        return Page(items, encode_cursor(kind, key(items[-1])))
    return Page(items, None)
