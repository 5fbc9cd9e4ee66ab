"""Real servers for tests and benchmarks, started on loopback and stopped without a trace.

* :class:`ManagedProcess` (``process``): one server process - start, wait for its port, stop
  (terminate, kill, wait) - that every server helper builds on;
* :class:`PostgresServer`, :class:`MariaDbServer`: a cluster of their own from Debian's packages;
* :class:`SqliteDatabases`, :class:`ServerDatabases`: fresh migrated databases, copied from a
  template migrated once; :func:`db_urls` starts what a benchmark needs and yields the URLs.
"""

from matinee.testing.servers.databases import (
    DIALECTS,
    Databases,
    ServerDatabases,
    SqliteDatabases,
    db_urls,
)
from matinee.testing.servers.mariadb import MariaDbServer
from matinee.testing.servers.postgres import PostgresServer
from matinee.testing.servers.process import (
    ManagedProcess,
    ServerFailed,
    fast_tmp_dir,
    pick_port,
    private_dir,
)

__all__ = [
    "DIALECTS",
    "Databases",
    "ManagedProcess",
    "MariaDbServer",
    "PostgresServer",
    "ServerDatabases",
    "ServerFailed",
    "SqliteDatabases",
    "db_urls",
    "fast_tmp_dir",
    "pick_port",
    "private_dir",
]
