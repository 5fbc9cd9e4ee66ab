"""W3C Trace Context (https://www.w3.org/TR/trace-context/) and the request id, per request.

A request arrives with ``traceparent: 00-<trace-id>-<parent-id>-<flags>``: 32 and 16 lowercase hex
digits, neither all zeros, and 2 hex digits of flags (bit 0 = sampled). The server continues that
trace with a span of its own (``extract``); when the header is missing, repeated or invalid in
any way, it starts a new trace instead. A ``tracestate`` is kept only with a valid traceparent,
and dropped whole when any member is malformed, a key repeats or there are more than 32 members.

The current :class:`TraceContext` and request id live in context variables, so logs
(``runtime.logs``) and outgoing calls (``outgoing_headers``) find them without being passed them.
Every outgoing call gets a NEW span id whose parent is the current span.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
REQUEST_ID = "x-request-id"

_OWS = " \t"
_V00 = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
# a later version: the same first four fields, then nothing or "-" and whatever it defines
_FUTURE = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?", re.S)
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
_SAMPLED = 0x01

_KEY_CHARS = r"[a-z0-9_\-*/]"
_STATE_KEY = re.compile(
    rf"[a-z]{_KEY_CHARS}{{0,255}}|[a-z0-9]{_KEY_CHARS}{{0,240}}@[a-z]{_KEY_CHARS}{{0,13}}"
)
_STATE_VALUE = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]")
_STATE_MAX_MEMBERS = 32
_STATE_MAX_CHARS = 512
_STATE_LONG_MEMBER = 128
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


@dataclass(frozen=True, slots=True)
class TraceContext:
    """One span of a trace: ``span_id`` is this span, ``parent_id`` the one that called it."""

    trace_id: str
    span_id: str
    sampled: bool = True
    parent_id: str | None = None
    tracestate: str = ""

    @property
    def traceparent(self) -> str:
        return format_traceparent(self)

    def child(self) -> TraceContext:
        """A new span in the same trace whose parent is this span."""
        return TraceContext(
            self.trace_id, new_span_id(), self.sampled, self.span_id, self.tracestate
        )


# Ids need to be unique, not secret: a PRNG, as OpenTelemetry's RandomIdGenerator uses, instead of
# secrets (one getrandom system call per id, four per proxied request).
_bits = random.getrandbits


def new_trace_id() -> str:
    while (value := f"{_bits(128):032x}") == _ZERO_TRACE:  # all zeros is invalid
        pass
    return value


def new_span_id() -> str:
    while (value := f"{_bits(64):016x}") == _ZERO_SPAN:
        pass
    return value


def new_request_id() -> str:
    return f"{_bits(128):032x}"


def new_trace(*, sampled: bool = True) -> TraceContext:
    """The root span of a new trace."""
    return TraceContext(new_trace_id(), new_span_id(), sampled)


def format_traceparent(ctx: TraceContext) -> str:
    # only the sampled flag is defined for version 00; other bits must be sent as zero
    return f"00-{ctx.trace_id}-{ctx.span_id}-{_SAMPLED if ctx.sampled else 0:02x}"


def parse_traceparent(value: str | None) -> TraceContext | None:
    """The caller's span from a ``traceparent`` value, or None when it is not valid."""
    if value is None:
        return None
    value = value.strip(_OWS)
    if match := _V00.fullmatch(value):
        trace_id, span_id, flags = match.group(1, 2, 3)
    elif (match := _FUTURE.fullmatch(value)) and match.group(1) not in ("00", "ff"):
        # a later version is read by its version-00 prefix; 00 must be exact and ff is invalid
        trace_id, span_id, flags = match.group(2, 3, 4)
    else:
        return None
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return TraceContext(trace_id, span_id, bool(int(flags, 16) & _SAMPLED))


def parse_tracestate(values: Iterable[str]) -> str:
    """All ``tracestate`` header values combined and checked; "" when invalid or empty."""
    members: list[str] = []
    keys: set[str] = set()
    for value in values:
        for raw in value.split(","):
            member = raw.strip(_OWS)
            if not member:
                continue  # empty list members are allowed
            key, sep, val = member.partition("=")
            if not sep or not _STATE_KEY.fullmatch(key) or not _STATE_VALUE.fullmatch(val):
                return ""
            if key in keys:
                return ""
            keys.add(key)
            members.append(member)
    if len(members) > _STATE_MAX_MEMBERS:
        return ""
    return _truncate(members)


def _truncate(members: list[str]) -> str:
    """Keep the combined header within 512 characters: drop long members first, then the last."""
    while len(",".join(members)) > _STATE_MAX_CHARS:
        long = next((i for i, m in enumerate(members) if len(m) > _STATE_LONG_MEMBER), None)
        members.pop(len(members) - 1 if long is None else long)
    return ",".join(members)


def accept_request_id(value: str | None) -> str:
    """The caller's request id when it is a short, plain token; a new one otherwise."""
    if value is not None and _REQUEST_ID.fullmatch(value):
        return value
    return new_request_id()


def continue_trace(traceparent: str | None, tracestate: Iterable[str] = ()) -> TraceContext:
    """This server's span: a child of the caller's span, or the root of a new trace."""
    caller = parse_traceparent(traceparent)
    if caller is None:
        return new_trace()
    state = parse_tracestate(tracestate)
    return TraceContext(caller.trace_id, new_span_id(), caller.sampled, caller.span_id, state)


def extract(headers: Iterable[tuple[str, str]]) -> tuple[TraceContext, str]:
    """This server's span and request id from request headers (names in any case)."""
    parents: list[str] = []
    states: list[str] = []
    request_id: str | None = None
    for name, value in headers:
        lower = name.lower()
        if lower == TRACEPARENT:
            parents.append(value)
        elif lower == TRACESTATE:
            states.append(value)
        elif lower == REQUEST_ID:
            request_id = value
    # two traceparent headers cannot be told apart: start over
    trace = continue_trace(parents[0] if len(parents) == 1 else None, states)
    return trace, accept_request_id(request_id)


def extract_asgi(headers: Iterable[tuple[bytes, bytes]]) -> tuple[TraceContext, str]:
    """:func:`extract` for an ASGI scope's raw ``headers`` (lowercase names, latin-1 bytes)."""
    wanted = (b"traceparent", b"tracestate", b"x-request-id")
    return extract(
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in headers
        if name.lower() in wanted
    )


# -- the current request -----------------------------------------------------------------------

_trace: ContextVar[TraceContext | None] = ContextVar("matinee_trace", default=None)
_request_id: ContextVar[str | None] = ContextVar("matinee_request_id", default=None)


def current_trace() -> TraceContext | None:
    return _trace.get()


def current_request_id() -> str | None:
    return _request_id.get()


@dataclass(frozen=True, slots=True)
class Binding:
    trace: Token[TraceContext | None]
    request_id: Token[str | None]


def bind(trace: TraceContext | None, request_id: str | None) -> Binding:
    """Make ``trace`` and ``request_id`` current; undo with :func:`unbind`."""
    return Binding(_trace.set(trace), _request_id.set(request_id))


def unbind(binding: Binding) -> None:
    _request_id.reset(binding.request_id)
    _trace.reset(binding.trace)


@contextmanager
def scope(trace: TraceContext | None, request_id: str | None) -> Iterator[None]:
    """``with scope(trace, rid):`` - current inside the block, restored after."""
    binding = bind(trace, request_id)
    try:
        yield
    finally:
        unbind(binding)


def outgoing_headers() -> list[tuple[str, str]]:
    """Headers for a call to another service: ``traceparent`` with a new span id whose parent is
    the current span (a new trace when there is none), ``tracestate`` and ``x-request-id`` when
    there are."""
    current = _trace.get()
    span = current.child() if current is not None else new_trace()
    headers = [(TRACEPARENT, span.traceparent)]
    if span.tracestate:
        headers.append((TRACESTATE, span.tracestate))
    request_id = _request_id.get()
    if request_id is not None:
        headers.append((REQUEST_ID, request_id))
    return headers
