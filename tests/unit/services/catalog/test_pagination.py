"""Opaque cursors and pages."""

from __future__ import annotations

import base64

import pytest

from matinee.services.catalog.errors import InvalidCursor
from matinee.services.catalog.pagination import (
    decode_cursor,
    encode_cursor,
    page_of,
    query_kind,
)


def test_a_cursor_round_trips_and_is_url_safe() -> None:
    cursor = encode_cursor("titles:newest", [2016, "stranger things", "3b0e/+"])
    assert "=" not in cursor
    assert "/" not in cursor
    assert "+" not in cursor
    assert decode_cursor(cursor, "titles:newest") == [2016, "stranger things", "3b0e/+"]


def test_a_cursor_of_another_list_is_refused() -> None:
    cursor = encode_cursor("titles:newest", [2016, "a", "b"])
    with pytest.raises(InvalidCursor, match="another list"):
        decode_cursor(cursor, "titles:name")


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(b'{"list": "genres", "after": "x"}').decode(),
        base64.urlsafe_b64encode(b'{"list": "genres", "after": [true]}').decode(),
        base64.urlsafe_b64encode(b'{"list": "genres", "after": [{"a": 1}]}').decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_damaged_cursor_is_refused_in_plain_words(cursor: str) -> None:
    with pytest.raises(InvalidCursor, match=r"^cursor: "):
        decode_cursor(cursor, "genres")


def test_query_bound_lists_differ_by_query() -> None:
    assert query_kind("search", ["a"], "US") == query_kind("search", ["a"], "US")
    assert query_kind("search", ["a"], "US") != query_kind("search", ["a"], "GB")
    assert query_kind("search", ["a"], "US").startswith("search:")


def test_page_of_cuts_and_points_after_the_last_item() -> None:
    rows = list(range(6))
    page = page_of(rows, 5, "numbers", lambda n: [n])
    assert page.items == [0, 1, 2, 3, 4]
    assert page.next_cursor is not None
    assert decode_cursor(page.next_cursor, "numbers") == [4]

    last = page_of(rows[:5], 5, "numbers", lambda n: [n])
    assert last.items == [0, 1, 2, 3, 4]
    assert last.next_cursor is None
    assert page_of([], 5, "numbers", lambda n: [n]).next_cursor is None
