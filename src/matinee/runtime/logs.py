"""Structured logs: one JSON object per line on stderr, tagged with service, instance and request.

Every line has ``ts`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger``, ``msg``,
``service``, ``instance``, ``request_id``, ``trace_id`` and ``span_id`` (from the current request,
see ``runtime.tracing``; null outside one), ``exc`` (the traceback) when an exception is logged,
and any ``extra={...}`` fields the caller passed.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from matinee.clock import Clock
from matinee.runtime import tracing

# attributes every LogRecord has; anything else on a record came from ``extra=``
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName"}
)


def _iso(ts: float) -> str:
    return (
        datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line. ``clock`` (if given) stamps the time, else the record."""

    def __init__(self, service: str, instance: str, clock: Clock | None = None) -> None:
        super().__init__()
        self.service = service
        self.instance = instance
        self.clock = clock

    def format(self, record: logging.LogRecord) -> str:
        trace = tracing.current_trace()
        entry: dict[str, Any] = {
            "ts": _iso(self.clock.time() if self.clock is not None else record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "service": self.service,
            "instance": self.instance,
            "request_id": tracing.current_request_id(),
            "trace_id": trace.trace_id if trace is not None else None,
            "span_id": trace.span_id if trace is not None else None,
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value  # extra= fields (may override request_id, e.g. for a task)
        return json.dumps(entry, default=str, ensure_ascii=False, separators=(",", ":"))


class JsonHandler(logging.StreamHandler[TextIO]):
    """The handler :func:`configure_logging` installs (so a second call replaces it)."""


def _level(level: int | str) -> int:
    if isinstance(level, int):
        return level
    levels = logging.getLevelNamesMapping()
    name = level.upper()
    if name not in levels:
        raise ValueError(f"unknown log level {level!r}; use one of DEBUG, INFO, WARNING, ERROR")
    return levels[name]


def configure_logging(
    service: str,
    instance: str,
    level: int | str = "INFO",
    *,
    stream: TextIO | None = None,
    clock: Clock | None = None,
) -> logging.Handler:
    """Send every log record (root logger and below) as JSON lines to ``stream`` (stderr).

    Replaces the handler a previous call installed; other handlers are left alone.
    Returns the installed handler."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, JsonHandler)]:
        root.removeHandler(old)
        old.close()
    handler = JsonHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter(service, instance, clock))
    root.addHandler(handler)
    root.setLevel(_level(level))
    # Alembic narrates every plugin it loads at INFO; migrations run once, before instances
    # start (`matinee up`), so an instance only needs to hear about its problems.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return handler
