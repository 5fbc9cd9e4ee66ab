"""W3C Trace Context: the cases of the W3C test suite (w3c/trace-context test/test.py) and more."""

from __future__ import annotations

import asyncio
import re

import pytest

from matinee.runtime import tracing
from matinee.runtime.tracing import TraceContext

TRACE = "12345678901234567890123456789012"
PARENT = "1234567890123456"
VALID = f"00-{TRACE}-{PARENT}-01"
FORMAT = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]")


def server_span(headers: list[tuple[str, str]]) -> TraceContext:
    trace, _ = tracing.extract(headers)
    assert FORMAT.fullmatch(trace.traceparent)
    return trace


@pytest.mark.parametrize(
    "value",
    [
        VALID,
        f"00-{TRACE}-{PARENT}-00",
        f"00-{TRACE}-{PARENT}-ff",  # unknown flags are ignored, not an error
        f" 00-{TRACE}-{PARENT}-01",
        f"\t00-{TRACE}-{PARENT}-01",
        f"00-{TRACE}-{PARENT}-01 ",
        f"00-{TRACE}-{PARENT}-01\t",
        f"\t 00-{TRACE}-{PARENT}-01 \t",
        f"cc-{TRACE}-{PARENT}-01",  # a future version is read by its version-00 prefix
        f"cc-{TRACE}-{PARENT}-01-what-the-future-will-be-like",
    ],
)
def test_valid_traceparent_continues_the_trace(value: str) -> None:
    caller = tracing.parse_traceparent(value)
    assert caller is not None
    assert (caller.trace_id, caller.span_id) == (TRACE, PARENT)
    span = server_span([("traceparent", value)])
    assert span.trace_id == TRACE
    assert span.parent_id == PARENT
    assert span.span_id != PARENT


@pytest.mark.parametrize(
    "value",
    [
        f"00-{TRACE}-{PARENT}-01.",
        f"00-{TRACE}-{PARENT}-01-what-the-future-will-be-like",  # version 00 is exactly 55 chars
        f"cc-{TRACE}-{PARENT}-01.what-the-future-will-be-like",
        f"ff-{TRACE}-{PARENT}-01",
        f".0-{TRACE}-{PARENT}-01",
        f"0.-{TRACE}-{PARENT}-01",
        f"000-{TRACE}-{PARENT}-01",
        f"0000-{TRACE}-{PARENT}-01",
        f"0-{TRACE}-{PARENT}-01",
        f"00-{'0' * 32}-{PARENT}-01",
        f"00-.{TRACE[1:]}-{PARENT}-01",
        f"00-{TRACE[:-1]}.-{PARENT}-01",
        f"00-{TRACE}3-{PARENT}-01",
        f"00-{TRACE[:-1]}-{PARENT}-01",
        f"00-{TRACE}-{'0' * 16}-01",
        f"00-{TRACE}-.{PARENT[1:]}-01",
        f"00-{TRACE}-{PARENT[:-1]}.-01",
        f"00-{TRACE}-{PARENT}7-01",
        f"00-{TRACE}-{PARENT[:-1]}-01",
        f"00-{TRACE}-{PARENT}-.0",
        f"00-{TRACE}-{PARENT}-0.",
        f"00-{TRACE}-{PARENT}-001",
        f"00-{TRACE}-{PARENT}-1",
        f"00-{TRACE.upper().replace('1', 'A')}-{PARENT}-01",  # hex digits must be lowercase
        f"00_{TRACE}_{PARENT}_01",
        f"00-{TRACE}-{PARENT}-01\n",
        "",
        "garbage",
    ],
)
def test_invalid_traceparent_starts_a_new_trace(value: str) -> None:
    assert tracing.parse_traceparent(value) is None
    span = server_span([("traceparent", value)])
    assert span.trace_id not in (TRACE, "0" * 32)
    assert span.parent_id is None


def test_header_names_are_case_insensitive_but_exact() -> None:
    for name in ("TraceParent", "TrAcEpArEnT", "TRACEPARENT"):
        assert server_span([(name, VALID)]).trace_id == TRACE
    for name in ("trace-parent", "trace.parent"):
        assert server_span([(name, VALID)]).trace_id != TRACE


def test_two_traceparent_headers_start_a_new_trace() -> None:
    other = f"00-{TRACE[:-1]}1-{PARENT}-01"
    span = server_span([("traceparent", other), ("traceparent", VALID)])
    assert span.trace_id not in (TRACE, TRACE[:-1] + "1")


def test_missing_headers_start_a_sampled_trace_and_a_request_id() -> None:
    span, request_id = tracing.extract([])
    assert span.sampled
    assert span.parent_id is None
    assert span.tracestate == ""
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)


def test_sampled_flag_is_carried() -> None:
    assert not server_span([("traceparent", f"00-{TRACE}-{PARENT}-00")]).sampled
    assert server_span([("traceparent", f"00-{TRACE}-{PARENT}-03")]).sampled
    child = TraceContext(TRACE, PARENT, sampled=True).child()
    assert child.traceparent.endswith("-01")  # bits other than sampled are sent as zero


def state(*values: str, traceparent: str = VALID) -> str:
    headers = [("traceparent", traceparent)] + [("tracestate", v) for v in values]
    return server_span(headers).tracestate


def test_tracestate_is_kept_and_combined_in_order() -> None:
    assert state("foo=1,bar=2") == "foo=1,bar=2"
    assert state("foo=1,bar=2", "rojo=1,congo=2", "baz=3") == "foo=1,bar=2,rojo=1,congo=2,baz=3"
    assert state("foo=1 \t , \t bar=2, \t baz=3") == "foo=1,bar=2,baz=3"
    assert state("\t foo=1 \t") == "foo=1"
    assert state("", "foo=1") == "foo=1"
    assert state("foo=1", "") == "foo=1"
    assert state("foo=1,,bar=2") == "foo=1,bar=2"
    assert state("") == ""


def test_tracestate_needs_a_valid_traceparent() -> None:
    assert state("foo=1", traceparent=f"00-{'0' * 32}-{PARENT}-01") == ""
    span = server_span([("tracestate", "foo=1")])
    assert span.tracestate == ""


def test_tracestate_allows_every_legal_character() -> None:
    key = "abcdefghijklmnopqrstuvwxyz0123456789_-*/"
    value = "".join(map(chr, [*range(0x20, 0x2C), *range(0x2D, 0x3D), *range(0x3E, 0x7F)]))
    assert state(f"{key}={value}") == f"{key}={value}"
    assert state(f"{key}@a-z0-9_-*/={value}") == f"{key}@a-z0-9_-*/={value}"


@pytest.mark.parametrize(
    "values",
    [
        ("foo=1,foo=1",),
        ("foo=1,foo=2",),
        ("foo=1", "foo=1"),
        ("foo=1", "foo=2"),
        ("foo =1",),
        ("FOO=1",),
        ("foo.bar=1",),
        ("foo@=1,bar=2",),
        ("@foo=1,bar=2",),
        ("foo@@bar=1,bar=2",),
        ("foo@bar@baz=1,bar=2",),
        ("foo=1", "z" * 257 + "=1"),
        ("foo=1", "t" * 242 + "@v=1"),
        ("foo=1", "t@" + "v" * 15 + "=1"),
        ("foo=bar=baz",),
        ("foo=,bar=3",),
        (",".join(f"bar{i:02d}={i:02d}" for i in range(1, 34)),),
    ],
)
def test_invalid_tracestate_is_dropped_whole(values: tuple[str, ...]) -> None:
    assert state(*values) == ""


def test_tracestate_limits_that_are_still_valid() -> None:
    thirty_two = ",".join(f"bar{i:02d}={i:02d}" for i in range(1, 33))
    assert state(thirty_two) == thirty_two
    assert state("foo=1 x ") == "foo=1 x"  # a space inside a value is fine; OWS is stripped
    assert state("foo=1", "z" * 256 + "=1").startswith("foo=1")
    assert state("foo=1", "t" * 241 + "@" + "v" * 14 + "=1").startswith("foo=1")


def test_tracestate_is_truncated_to_512_chars_dropping_long_members_first() -> None:
    long = "big=" + "x" * 200
    small = [f"k{i:02d}=" + "v" * 20 for i in range(20)]  # 24 chars each
    combined = tracing.parse_tracestate([",".join([small[0], long, *small[1:]])])
    assert "big=" not in combined
    assert len(combined) <= 512
    assert combined.startswith("k00=")
    many = tracing.parse_tracestate([",".join(f"k{i:02d}=" + "v" * 40 for i in range(30))])
    assert len(many) <= 512
    assert many.split(",")[0].startswith("k00=")
    assert many.split(",")[-1].startswith("k10=")  # dropped from the end


def test_request_id_is_taken_when_plain_and_replaced_otherwise() -> None:
    assert tracing.extract([("X-Request-Id", "abc-123")])[1] == "abc-123"
    for bad in ("", "a b", "x" * 129, "inject\nline", "é"):
        request_id = tracing.extract([("x-request-id", bad)])[1]
        assert request_id != bad
        assert re.fullmatch(r"[0-9a-f]{32}", request_id)


def test_extract_asgi_reads_raw_headers() -> None:
    span, request_id = tracing.extract_asgi(
        [(b"host", b"x"), (b"traceparent", VALID.encode()), (b"x-request-id", b"r-1")]
    )
    assert (span.trace_id, span.parent_id, request_id) == (TRACE, PARENT, "r-1")


def test_outgoing_headers_carry_a_new_span_whose_parent_is_the_current_one() -> None:
    current = TraceContext(TRACE, PARENT, sampled=False, tracestate="foo=1")
    with tracing.scope(current, "req-1"):
        first = dict(tracing.outgoing_headers())
        second = dict(tracing.outgoing_headers())
    for headers in (first, second):
        callee = tracing.parse_traceparent(headers["traceparent"])
        assert callee is not None
        assert callee.trace_id == TRACE
        assert callee.span_id != PARENT
        assert not callee.sampled
        assert headers["tracestate"] == "foo=1"
        assert headers["x-request-id"] == "req-1"
    assert first["traceparent"] != second["traceparent"]  # a new span per call


def test_outgoing_headers_outside_a_request_start_a_trace() -> None:
    headers = tracing.outgoing_headers()
    assert [name for name, _ in headers] == ["traceparent"]
    assert FORMAT.fullmatch(headers[0][1])
    assert headers[0][1] != tracing.outgoing_headers()[0][1]


def test_scope_restores_the_previous_values() -> None:
    outer = tracing.new_trace()
    with tracing.scope(outer, "outer"):
        with tracing.scope(outer.child(), "inner"):
            assert tracing.current_request_id() == "inner"
        assert tracing.current_trace() == outer
        assert tracing.current_request_id() == "outer"
    assert tracing.current_trace() is None
    assert tracing.current_request_id() is None


def test_concurrent_requests_do_not_see_each_other() -> None:
    async def handle(name: str, seen: dict[str, str | None]) -> None:
        binding = tracing.bind(tracing.new_trace(), name)
        try:
            await asyncio.sleep(0)
            seen[name] = tracing.current_request_id()
        finally:
            tracing.unbind(binding)

    async def main() -> dict[str, str | None]:
        seen: dict[str, str | None] = {}
        await asyncio.gather(*(handle(f"r{i}", seen) for i in range(10)))
        return seen

    assert asyncio.run(main()) == {f"r{i}": f"r{i}" for i in range(10)}


def test_new_ids_are_well_formed_and_not_zero() -> None:
    ids = {tracing.new_trace_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) and i != "0" * 32 for i in ids)
    assert re.fullmatch(r"[0-9a-f]{16}", tracing.new_span_id())
