"""The history URL's options, and the compact encodings (chunks, summaries, cursors)."""

from __future__ import annotations

import pytest

from matinee.history import (
    CorruptHistory,
    InvalidCursor,
    InvalidHistoryUrl,
    TitleState,
    ViewingEvent,
    parse_history_url,
)
from matinee.history.codec import (
    decode_chunk,
    decode_cursor,
    decode_summary,
    encode_chunk,
    encode_cursor,
    encode_summary,
)
from matinee.history.options import replication_map


def test_urls_name_a_backend_and_its_options() -> None:
    sqlite = parse_history_url("sqlite:///data/history.db?rollup_age_s=60&synchronous=normal")
    assert (sqlite.backend, sqlite.path) == ("sqlite", "/data/history.db")
    assert (sqlite.options.rollup_age_s, sqlite.options.synchronous) == (60.0, "NORMAL")
    cassandra = parse_history_url("cassandra://a:9142,b/vh?consistency=one&concurrency=8")
    assert cassandra.hosts == (("a", 9142), ("b", 9042))
    assert cassandra.keyspace == "vh"
    assert (cassandra.options.consistency, cassandra.options.concurrency) == ("ONE", 8)
    assert parse_history_url("cassandra://h").keyspace == "matinee_history"


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("history.db", "no scheme"),
        ("sqlite://relative.db", "absolute"),
        ("redis://h/0", "unknown history backend"),
        ("cassandra:///ks", "at least one host"),
        ("cassandra://h/bad-name", "keyspace"),
        ("sqlite:///h.db?chunk_events=0", "chunk_events"),
        ("sqlite:///h.db?nope=1", "unknown history option"),
        ("sqlite:///h.db?late_s=soon", "not a number"),
        ("cassandra://h/ks?consistency=MOST", "consistency"),
        ("cassandra://h/ks?replication=Ring:3", "replication"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, complaint: str) -> None:
    with pytest.raises(InvalidHistoryUrl, match=complaint):
        parse_history_url(url)


def test_replication_maps() -> None:
    assert replication_map("SimpleStrategy:3") == {
        "class": "SimpleStrategy",
        "replication_factor": "3",
    }
    assert replication_map("NetworkTopologyStrategy:dc1=3,dc2=2") == {
        "class": "NetworkTopologyStrategy",
        "dc1": "3",
        "dc2": "2",
    }


def test_chunks_round_trip_every_field() -> None:
    events = [
        ViewingEvent("p", "e1", 10.5, "t", "stop", 99.5, 100.0, "tv", "720p", 3, 1.5, 2, True),
        ViewingEvent("p", "e0", 9.0, "t", "start"),
    ]
    blob = encode_chunk(events)
    assert decode_chunk("p", blob) == events
    with pytest.raises(CorruptHistory):
        decode_chunk("p", b"\x01garbage")
    with pytest.raises(CorruptHistory, match="unknown format"):
        decode_chunk("p", b"\x09")


def test_summaries_parse_only_the_newest_entries_asked_for() -> None:
    states = [TitleState(f"t{i}", float(i), 100.0, 50.0 - i, f"e{i}", i == 0) for i in range(5)]
    blob = encode_summary(states)
    assert decode_summary(blob) == states
    assert decode_summary(blob, 2) == states[:2]
    assert decode_summary(encode_summary([])) == []
    assert decode_summary(None) == []


def test_cursors_are_opaque_and_checked() -> None:
    key = (1_700_000_000.123456, "ev-1")
    assert decode_cursor(encode_cursor(key)) == key
    for bad in ("", "!!!", encode_cursor((1.0, "x"))[:-3], "WzEsMl0"):
        with pytest.raises(InvalidCursor, match="cursor"):
            decode_cursor(bad)
