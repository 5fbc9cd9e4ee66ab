"""Fixtures of the history store's contract suite: one URL per backend.

``history_url`` runs a test once on SQLite (a file of its own) and once on a real Cassandra
node, started once per session by :class:`~matinee.testing.servers.cassandra.CassandraNode` on
loopback (native port 16042, storage 16070) and stopped at the end. Cassandra tests share one
keyspace and keep apart by using their own profile ids.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from matinee.testing.servers.cassandra import CassandraNode

log = logging.getLogger(__name__)

KEYSPACE = "history_contract"
BACKENDS = ("sqlite", "cassandra")


@pytest.fixture(scope="session")
def cassandra_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CassandraNode]:
    """A Cassandra node for this session (only started when a test asks for it)."""
    with CassandraNode(tmp_path_factory.mktemp("cassandra")) as node:
        log.warning("cassandra started in %.1f s", node.started_in or 0.0)
        yield node


@pytest.fixture(params=BACKENDS)
def history_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A history store URL without options: ``sqlite:///...`` or ``cassandra://...``."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.db'}"
    node: CassandraNode = request.getfixturevalue("cassandra_node")
    return node.url(KEYSPACE)
