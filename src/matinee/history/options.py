"""The history URL: which backend, where, and its options in the query string.

* ``sqlite:///path/history.db`` - the embedded default, a database file of its own;
* ``cassandra://host[:port][,host[:port]...]/keyspace`` - Apache Cassandra (or ScyllaDB).

Options (query string, all optional)::

    rollup_age_s=3600      live rows older than this are rolled up
    rollup_period_s=300    how often the roll-up runs
    late_s=86400           how late (before the last roll-up) an event may still arrive
    chunk_events=1000      events per compressed chunk
    summary_titles=200     titles kept in the per-profile summary (continue-watching reads it)
    consistency=LOCAL_QUORUM        Cassandra reads and writes
    serial_consistency=LOCAL_SERIAL Cassandra's roll-up lease (a lightweight transaction)
    replication=SimpleStrategy:1    or NetworkTopologyStrategy:dc1=3,dc2=3 (keyspace creation)
    timeout_s=10           Cassandra request timeout
    protocol_version=5     Cassandra native protocol (Cassandra 4+ speaks 5; ScyllaDB 4)
    concurrency=128        Cassandra statements in flight per write (x2 concurrent writes)
    delete_margin_s=60     Cassandra: live rows written this recently survive the roll-up's
                           delete (requests in flight, clock skew); see cassandra.py
    synchronous=FULL       SQLite: FULL fsyncs every commit (NORMAL may lose the last ones
                           on power loss; never on a process crash)
    readers=2              SQLite reader threads
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Literal
from urllib.parse import parse_qsl

from matinee.history.errors import InvalidHistoryUrl

Backend = Literal["sqlite", "cassandra"]
DEFAULT_CASSANDRA_PORT = 9042
CONSISTENCY_LEVELS = ("ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM", "EACH_QUORUM")
SERIAL_LEVELS = ("SERIAL", "LOCAL_SERIAL")


@dataclass(frozen=True)
class HistoryOptions:
    """Tunables of a history store (see the module docstring for each)."""

    rollup_age_s: float = 3600.0
    rollup_period_s: float = 300.0
    late_s: float = 86400.0
    chunk_events: int = 1000
    summary_titles: int = 200
    consistency: str = "LOCAL_QUORUM"
    serial_consistency: str = "LOCAL_SERIAL"
    replication: str = "SimpleStrategy:1"
    timeout_s: float = 10.0
    protocol_version: int = 5
    concurrency: int = 128
    delete_margin_s: float = 60.0
    synchronous: str = "FULL"
    readers: int = 2

    def __post_init__(self) -> None:
        positive = ("rollup_age_s", "rollup_period_s", "chunk_events", "summary_titles")
        for name in (*positive, "timeout_s", "concurrency", "readers"):
            if getattr(self, name) <= 0:
                raise InvalidHistoryUrl(f"history option {name} must be more than 0")
        for name in ("late_s", "delete_margin_s"):
            if getattr(self, name) < 0:
                raise InvalidHistoryUrl(f"history option {name} cannot be negative")
        if self.consistency not in CONSISTENCY_LEVELS:
            raise InvalidHistoryUrl(
                f"history option consistency must be one of {', '.join(CONSISTENCY_LEVELS)}"
            )
        if self.serial_consistency not in SERIAL_LEVELS:
            raise InvalidHistoryUrl(
                "history option serial_consistency must be SERIAL or LOCAL_SERIAL"
            )
        if self.synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise InvalidHistoryUrl("history option synchronous must be OFF, NORMAL, FULL or EXTRA")
        replication_map(self.replication)  # raises when malformed


@dataclass(frozen=True)
class HistoryUrl:
    """A parsed history URL: backend, where (a file path, or hosts and a keyspace), options."""

    backend: Backend
    path: str = ""
    hosts: tuple[tuple[str, int], ...] = ()
    keyspace: str = ""
    options: HistoryOptions = field(default_factory=HistoryOptions)


def parse_history_url(url: str) -> HistoryUrl:
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise InvalidHistoryUrl(
            f"the history URL {url!r} has no scheme (sqlite:// or cassandra://)"
        )
    where, _, query = rest.partition("?")
    options = _options(query)
    if scheme == "sqlite":
        if not where.startswith("/") or where == "/":
            raise InvalidHistoryUrl("a SQLite history URL is sqlite:///absolute/path/history.db")
        return HistoryUrl("sqlite", path=where, options=options)
    if scheme == "cassandra":
        netloc, _, keyspace = where.partition("/")
        keyspace = keyspace.strip("/") or "matinee_history"
        if not keyspace.replace("_", "").isalnum() or not keyspace[0].isalpha():
            raise InvalidHistoryUrl(f"{keyspace!r} is not a Cassandra keyspace name")
        hosts = tuple(_host(h) for h in netloc.split(",") if h)
        if not hosts:
            raise InvalidHistoryUrl("a Cassandra history URL names at least one host")
        return HistoryUrl("cassandra", hosts=hosts, keyspace=keyspace, options=options)
    raise InvalidHistoryUrl(f"unknown history backend {scheme!r}: use sqlite:// or cassandra://")


def _host(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    try:
        return (host, int(port)) if port else (text, DEFAULT_CASSANDRA_PORT)
    except ValueError as exc:
        raise InvalidHistoryUrl(f"{text!r} is not host:port") from exc


def _options(query: str) -> HistoryOptions:
    known = {f.name: f for f in fields(HistoryOptions)}
    values: dict[str, object] = {}
    for name, raw in parse_qsl(query, keep_blank_values=True):
        if name not in known:
            raise InvalidHistoryUrl(f"unknown history option {name!r}")
        kind = type(getattr(HistoryOptions(), name))
        try:
            values[name] = raw.upper() if kind is str and name != "replication" else kind(raw)
        except ValueError as exc:
            raise InvalidHistoryUrl(f"history option {name}={raw!r} is not a number") from exc
    return replace(HistoryOptions(), **values)  # type: ignore[arg-type]


def replication_map(text: str) -> dict[str, str]:
    """``SimpleStrategy:1`` or ``NetworkTopologyStrategy:dc1=3,dc2=3`` as a CQL replication map."""
    strategy, _, spec = text.partition(":")
    if strategy == "SimpleStrategy" and spec.isdigit():
        return {"class": "SimpleStrategy", "replication_factor": spec}
    if strategy == "NetworkTopologyStrategy" and spec:
        out = {"class": "NetworkTopologyStrategy"}
        for part in spec.split(","):
            dc, _, factor = part.partition("=")
            if not dc or not factor.isdigit():
                raise InvalidHistoryUrl(f"replication {text!r}: write dc=factor pairs")
            out[dc] = factor
        return out
    raise InvalidHistoryUrl(
        f"replication {text!r}: use SimpleStrategy:N or NetworkTopologyStrategy:dc=N,..."
    )
