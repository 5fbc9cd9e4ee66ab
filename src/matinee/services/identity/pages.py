"""Keyset pagination over ``(created_at, id)``: the opaque cursor names the last row a page
showed, so the next page starts right after it however many rows were added meanwhile."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from matinee.services.identity.errors import InvalidCursor

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass(frozen=True)
class Cursor:
    created_at: datetime
    id: str

    def encode(self) -> str:
        raw = json.dumps([self.created_at.isoformat(), self.id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            created, ident = json.loads(raw)
            when = datetime.fromisoformat(created)
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidCursor("cursor: this is not a cursor this list handed out.") from exc
        if not isinstance(ident, str) or when.tzinfo is None:
            raise InvalidCursor("cursor: this is not a cursor this list handed out.")
        return cls(when, ident)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def after(
    cursor: Cursor | None,
    created_at: InstrumentedAttribute[datetime],
    ident: InstrumentedAttribute[str],
) -> ColumnElement[bool] | None:
    """The WHERE clause for rows after ``cursor`` in ``(created_at, id)`` order."""
    if cursor is None:
        return None
    return or_(
        created_at > cursor.created_at,
        and_(created_at == cursor.created_at, ident > cursor.id),
    )


def page_of(rows: list[Any], limit: int) -> Page[Any]:
    """The first ``limit`` of ``rows`` (fetched with ``limit + 1``) and the cursor after them."""
    if len(rows) <= limit:
        return Page(rows, None)
    last = rows[limit - 1]
    return Page(rows[:limit], Cursor(last.created_at, last.id).encode())
