"""JSON-lines logging with the request's ids."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from matinee.clock import FakeClock
from matinee.runtime import tracing
from matinee.runtime.logs import JsonHandler, configure_logging
from matinee.runtime.tracing import TraceContext

TRACE = "12345678901234567890123456789012"
SPAN = "1234567890123456"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """A fresh stream; the root logger's handlers and level are restored afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield io.StringIO()
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_has_every_field(stream: io.StringIO) -> None:
    configure_logging("media", "media-1", "INFO", stream=stream, clock=FakeClock(1_700_000_000.25))
    with tracing.scope(TraceContext(TRACE, SPAN), "req-1"):
        logging.getLogger("matinee.test").info("served %s in %d ms", "/x", 12)
    [line] = lines(stream)
    assert line == {
        "ts": "2023-11-14T22:13:20.250Z",
        "level": "INFO",
        "logger": "matinee.test",
        "msg": "served /x in 12 ms",
        "service": "media",
        "instance": "media-1",
        "request_id": "req-1",
        "trace_id": TRACE,
        "span_id": SPAN,
    }


def test_outside_a_request_the_ids_are_null(stream: io.StringIO) -> None:
    configure_logging("media", "media-1", stream=stream)
    logging.getLogger("x").warning("idle")
    [line] = lines(stream)
    assert line["request_id"] is None
    assert line["trace_id"] is None
    assert line["level"] == "WARNING"
    assert line["ts"].endswith("Z")


def test_exceptions_and_extras_are_included(stream: io.StringIO) -> None:
    configure_logging("gw", "gw-1", stream=stream)
    try:
        int("boom")
    except ValueError:
        logging.getLogger("x").exception("failed", extra={"route": "/a", "obj": object()})
    [line] = lines(stream)
    assert line["msg"] == "failed"
    assert line["level"] == "ERROR"
    assert "ValueError: invalid literal" in line["exc"]
    assert "Traceback" in line["exc"]
    assert line["route"] == "/a"
    assert line["obj"].startswith("<object")  # not JSON: written as text


def test_level_filters_and_unicode_is_kept(stream: io.StringIO) -> None:
    configure_logging("s", "i", "warning", stream=stream)
    log = logging.getLogger("x")
    log.info("hidden")
    log.warning("café \n new line")
    [line] = lines(stream)
    assert line["msg"] == "café \n new line"
    assert "\n" not in stream.getvalue().rstrip("\n")


def test_configuring_again_replaces_the_handler(stream: io.StringIO) -> None:
    first = configure_logging("s", "i", stream=io.StringIO())
    second = configure_logging("s", "i", stream=stream)
    root = logging.getLogger()
    assert first not in root.handlers
    assert [h for h in root.handlers if isinstance(h, JsonHandler)] == [second]
    logging.getLogger("x").error("once")
    assert len(lines(stream)) == 1


def test_unknown_level_is_refused(stream: io.StringIO) -> None:
    with pytest.raises(ValueError, match="unknown log level 'loud'"):
        configure_logging("s", "i", "loud", stream=stream)
