"""Compact encodings: compressed chunks of events, the per-profile summary, page cursors.

A chunk is ``b"\\x01"`` + zlib(JSON array of events as arrays, newest first); the summary is
``b"\\x01"`` + zlib(one JSON array per title state, newest first, a line each, so a read that
wants the newest few parses only those). Arrays, not objects: the field names would be most of
the bytes. The leading byte is the format version.

A cursor is the sort key of the last item a page returned, as base64url JSON: opaque to callers,
and stable across roll-ups (a key means the same place in the history whether the event sits in
a live row or in a chunk).
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from matinee.history.errors import CorruptHistory, InvalidCursor
from matinee.history.model import EVENT_KINDS, Key, TitleState, ViewingEvent

VERSION = b"\x01"
_KIND_CODE = {kind: i for i, kind in enumerate(EVENT_KINDS)}
_COMPACT = (",", ":")


def encode_chunk(events: Sequence[ViewingEvent]) -> bytes:
    """The events of one profile as one compressed blob (the profile id is the row's key)."""
    rows = [
        [
            e.at,
            e.event_id,
            e.title_id,
            _KIND_CODE[e.kind],
            e.position_s,
            e.duration_s,
            e.device,
            e.rendition,
            e.bitrate,
            e.buffer_s,
            e.rebuffers,
            1 if e.finished else 0,
        ]
        for e in events
    ]
    return VERSION + zlib.compress(json.dumps(rows, separators=_COMPACT).encode(), 6)


def decode_chunk(profile_id: str, blob: bytes) -> list[ViewingEvent]:
    rows = _load(blob, "chunk")
    try:
        return [
            ViewingEvent(
                profile_id=profile_id,
                event_id=r[1],
                at=r[0],
                title_id=r[2],
                kind=EVENT_KINDS[r[3]],
                position_s=r[4],
                duration_s=r[5],
                device=r[6],
                rendition=r[7],
                bitrate=r[8],
                buffer_s=r[9],
                rebuffers=r[10],
                finished=bool(r[11]),
            )
            for r in rows
        ]
    except (IndexError, TypeError) as exc:
        raise CorruptHistory(f"a history chunk of profile {profile_id} is malformed") from exc


def encode_summary(states: Iterable[TitleState]) -> bytes:
    """Title states (newest first), one JSON array per line: a read that needs only the
    newest few parses only those lines."""
    lines = [
        json.dumps(
            [s.title_id, s.position_s, s.duration_s, s.at, s.event_id, 1 if s.finished else 0],
            separators=_COMPACT,
        )
        for s in states
    ]
    return VERSION + zlib.compress("\n".join(lines).encode(), 6)


def decode_summary(blob: bytes | None, limit: int | None = None) -> list[TitleState]:
    """The first ``limit`` title states of a summary (all when None)."""
    if not blob:
        return []
    if blob[:1] != VERSION:
        raise CorruptHistory("a history summary has an unknown format")
    try:
        text = zlib.decompress(blob[1:]).decode()
    except (zlib.error, UnicodeDecodeError) as exc:
        raise CorruptHistory("a history summary cannot be decompressed") from exc
    if not text:
        return []
    lines = text.split("\n", limit) if limit is not None else text.split("\n")
    try:
        rows = [json.loads(line) for line in lines[:limit]]
        return [TitleState(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]
    except (ValueError, IndexError, TypeError) as exc:
        raise CorruptHistory("a history summary is malformed") from exc


def _load(blob: bytes, what: str) -> list[Any]:
    if blob[:1] != VERSION:
        raise CorruptHistory(f"a history {what} has an unknown format")
    try:
        rows = json.loads(zlib.decompress(blob[1:]))
    except (zlib.error, ValueError) as exc:
        raise CorruptHistory(f"a history {what} cannot be decompressed") from exc
    if not isinstance(rows, list):
        raise CorruptHistory(f"a history {what} is not a list")
    return rows


def encode_cursor(key: Key) -> str:
    raw = json.dumps([key[0], key[1]], separators=_COMPACT).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> Key:
    """The key a cursor stands for; :class:`InvalidCursor` if it was not made by us."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, event_id = json.loads(raw)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidCursor("cursor: this is not a cursor a previous page returned") from exc
    if not isinstance(at, int | float) or isinstance(at, bool) or not isinstance(event_id, str):
        raise InvalidCursor("cursor: this is not a cursor a previous page returned")
    return (float(at), event_id)
