"""The HTTP rules of media objects: ranges, validators in RFC 9110's order, types, caching."""

from __future__ import annotations

import pytest

from matinee.delivery.http import (
    IMMUTABLE,
    MANIFEST_CACHE,
    PRIVATE_MANIFEST_CACHE,
    ByteRange,
    RangeNotSatisfiable,
    Representation,
    answer,
    cache_control,
    content_type,
    etag_for,
    http_date,
    parse_http_date,
    parse_range,
    preflight,
)

REP = Representation.of("media/assets/a/video/1/00001.m4s", 1000, 1_700_000_000)
DATE = http_date(1_700_000_000)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=900-", ByteRange(900, 999)),
        ("bytes=900-5000", ByteRange(900, 999)),
        ("bytes=-100", ByteRange(900, 999)),
        ("bytes=-5000", ByteRange(0, 999)),
        ("BYTES = 1-1", ByteRange(1, 1)),
        ("bytes=0-1,5-6", None),  # several ranges: the whole object
        ("bytes=5-1", None),  # invalid: ignored
        ("items=0-1", None),
        ("bytes=a-b", None),
        ("bytes=-", None),
        ("bytes", None),
    ],
)
def test_ranges(header: str, expected: ByteRange | None) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 1000)


def test_types_and_caching() -> None:
    assert content_type("a/master.m3u8") == "application/vnd.apple.mpegurl"
    assert content_type("a/manifest.MPD") == "application/dash+xml"
    assert content_type("a/v/00001.m4s") == "video/iso.segment"
    assert content_type("a/v/init.mp4") == "video/mp4"
    assert content_type("a/t/00001.vtt") == "text/vtt"
    assert content_type("a/poster.jpg") == "image/jpeg"
    assert content_type("a/unknown.zzz") == "application/octet-stream"
    assert cache_control("a/master.m3u8") == MANIFEST_CACHE
    assert cache_control("a/master.m3u8", private=True) == PRIVATE_MANIFEST_CACHE
    assert cache_control("a/v/00001.m4s") == IMMUTABLE
    assert etag_for(1000, 1_700_000_000) == '"6553f100-3e8"'  # as nginx writes it
    assert parse_http_date(DATE) == 1_700_000_000
    assert parse_http_date("yesterday") is None
    assert parse_http_date("Tue, 14 Nov 2023 22:13:20") is None  # no zone: not an HTTP date


def statuses(method: str = "GET", **headers: str) -> int:
    request = {k.replace("_", "-").encode(): v for k, v in headers.items()}
    return answer(method, request, REP).status


def test_conditionals_in_rfc_order() -> None:
    assert statuses() == 200
    assert statuses(if_none_match=REP.etag) == 304
    assert statuses(if_none_match=f"W/{REP.etag}") == 304  # weak comparison
    assert statuses(if_none_match="*") == 304
    assert statuses(if_none_match='"x"', if_modified_since=DATE) == 200  # INM wins over IMS
    assert statuses(if_modified_since=DATE) == 304
    assert statuses(if_modified_since=http_date(1_600_000_000)) == 200
    assert statuses(if_modified_since="garbage") == 200
    assert statuses(if_match='"x"') == 412
    assert statuses(if_match=f"W/{REP.etag}") == 412  # strong comparison
    assert statuses(if_match=REP.etag, if_unmodified_since=http_date(1)) == 200  # IM wins
    assert statuses(if_unmodified_since=http_date(1)) == 412
    assert statuses(range="bytes=0-9") == 206
    assert statuses("HEAD", range="bytes=0-9") == 200  # HEAD ignores Range
    assert statuses(range="bytes=0-9", if_range=REP.etag) == 206
    assert statuses(range="bytes=0-9", if_range=DATE) == 206
    assert statuses(range="bytes=0-9", if_range=f"W/{REP.etag}") == 200
    assert statuses(range="bytes=0-9", if_range=http_date(1)) == 200
    assert statuses(range="bytes=2000-") == 416
    assert statuses(range="bytes=2000-", if_range='"x"') == 200


def test_answer_headers() -> None:
    whole = answer("GET", {}, REP)
    assert whole.send_body
    assert dict(whole.headers)[b"content-length"] == b"1000"
    assert dict(whole.headers)[b"access-control-allow-origin"] == b"*"
    part = answer("GET", {b"range": "bytes=10-19"}, REP)
    headers = dict(part.headers)
    assert (part.status, part.range) == (206, ByteRange(10, 19))
    assert headers[b"content-range"] == b"bytes 10-19/1000"
    assert headers[b"content-length"] == b"10"
    assert headers[b"etag"] == REP.etag.encode()
    missing = answer("GET", {b"range": "bytes=5000-"}, REP)
    assert dict(missing.headers)[b"content-range"] == b"bytes */1000"
    assert not missing.send_body
    not_modified = answer("GET", {b"if-none-match": REP.etag}, REP)
    assert b"content-length" not in dict(not_modified.headers)
    assert answer("HEAD", {}, REP).send_body is False
    pre = dict(preflight({b"access-control-request-headers": b"range"}))
    assert pre[b"access-control-allow-headers"] == b"range"
    assert b"GET" in pre[b"access-control-allow-methods"]
