"""A throwaway Apache Cassandra node on loopback, from Maven Central's jars, for tests and
benchmarks.

``scripts/cassandra/fetch.sh`` (run by ``scripts/test-deps.sh``; :func:`ensure_jars` runs it
too when the jars are missing) puts ``cassandra-all`` and its dependencies in
``.cache/cassandra/lib``. :class:`CassandraNode` writes a minimal ``cassandra.yaml`` (loopback
only, one token, its own native and storage ports, every directory under ``root_dir``), starts
``CassandraDaemon`` on the Java it finds with a small heap and the JVM options Cassandra 5 needs
on Java 17 (from its ``conf/jvm17-server.options``), waits until CQL answers, creates keyspaces
on request and stops the node (SIGTERM: Cassandra's own shutdown hook drains it).

Tuned for tests: a single node with one token starts in about 5 s; JMX is off (no port 7199),
and commit log sync is periodic (Cassandra's default), so a power loss may lose the last 10 s.

    with CassandraNode(tmp_path) as node:
        url = node.url(node.create_keyspace("matinee_test"))
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType

from matinee.testing.servers.process import LOOPBACK, ManagedProcess, ServerFailed, port_is_free

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[4]
FETCH_SCRIPT = REPO / "scripts" / "cassandra" / "fetch.sh"
NATIVE_PORT = 16042
STORAGE_PORT = 16070
START_SECONDS = 120.0
STOP_SECONDS = 30.0
MAIN_CLASS = "org.apache.cassandra.service.CassandraDaemon"

# From Cassandra 5.0's conf/jvm-server.options and conf/jvm17-server.options: what the node
# needs on Java 17 (module exports and opens for its off-heap and reflection tricks, Netty's
# direct buffers), without what only matters for big production heaps (AlwaysPreTouch etc.).
JVM17_OPTIONS = [
    "-ea",  # Cassandra's own assertions, as its scripts enable them
    "-da:net.openhft...",  # ...but not Chronicle's, which run out of memory by design
    "-XX:+UseG1GC",
    "-XX:+ParallelRefProcEnabled",
    "-XX:MaxTenuringThreshold=1",
    "-XX:+PerfDisableSharedMem",  # no mmapped hsperfdata file (its pauses are Cassandra lore)
    "-XX:+ExitOnOutOfMemoryError",  # a node that ran out of memory must not limp on
    "-Xss512k",
    "-Djava.net.preferIPv4Stack=true",
    "-Djdk.attach.allowAttachSelf=true",
    "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports=java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
    "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports=java.rmi/sun.rmi.server=ALL-UNNAMED",
    "--add-exports=java.sql/java.sql=ALL-UNNAMED",
    "--add-exports=java.base/java.lang.ref=ALL-UNNAMED",
    "--add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "--add-exports=jdk.attach/sun.tools.attach=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.module=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.loader=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.reflect=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.math=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.module=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.util.jar=ALL-UNNAMED",
    "--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens=jdk.compiler/com.sun.tools.javac=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dio.netty.allocator.useCacheForAllThreads=true",
    "-Dio.netty.allocator.maxOrder=11",
    # A single test node: no gossip settling, no ring delay, the superuser made at once.
    "-Dcassandra.skip_wait_for_gossip_to_settle=0",
    "-Dcassandra.ring_delay_ms=0",
    "-Dcassandra.superuser_setup_delay_ms=0",
    "-Dcassandra-foreground=yes",
]

LOGBACK = """<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="STDOUT"/></root>
</configuration>
"""


def lib_dir() -> Path:
    """Where the jars are: ``MATINEE_CASSANDRA_LIB`` or ``.cache/cassandra/lib`` in the repo."""
    return Path(os.environ.get("MATINEE_CASSANDRA_LIB") or REPO / ".cache" / "cassandra" / "lib")


def ensure_jars(lib: Path | None = None) -> Path:
    """The jar directory, fetched with Maven first if it holds no complete fetch."""
    lib = lib or lib_dir()
    if not list(lib.glob(".fetched-*")):
        log.info("fetching Cassandra's jars with %s", FETCH_SCRIPT)
        env = {**os.environ, "MATINEE_CASSANDRA_LIB": str(lib)}
        done = subprocess.run(
            [shutil.which("bash") or "/bin/bash", str(FETCH_SCRIPT)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise ServerFailed(
                f"fetching Cassandra's jars failed ({FETCH_SCRIPT}):\n{done.stdout}{done.stderr}"
            )
    jamm = sorted(lib.glob("jamm-*.jar"))
    if not jamm or not list(lib.glob("cassandra-all-*.jar")):
        raise ServerFailed(f"{lib} has no cassandra-all jar; run {FETCH_SCRIPT}")
    return lib


def find_java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise ServerFailed(f"no Java runtime found; run {FETCH_SCRIPT}, which installs one")
    return java


def _yaml(root: Path, native_port: int, storage_port: int) -> str:
    return f"""cluster_name: matinee-test
num_tokens: 1
initial_token: 0
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "{LOOPBACK}:{storage_port}"
listen_address: {LOOPBACK}
rpc_address: {LOOPBACK}
storage_port: {storage_port}
native_transport_port: {native_port}
start_native_transport: true
data_file_directories: [{root / "data"}]
commitlog_directory: {root / "commitlog"}
saved_caches_directory: {root / "saved_caches"}
hints_directory: {root / "hints"}
cdc_raw_directory: {root / "cdc_raw"}
commitlog_sync: periodic
commitlog_sync_period: 10000ms
auto_snapshot: false
concurrent_compactors: 1
"""


class CassandraNode:
    """A single Cassandra node on ``127.0.0.1:native_port`` with its files under ``root_dir``.

    Ports default to matinee's test range (native 16042, storage 16070); if one is taken, the
    next free one in the same block of ten is used."""

    def __init__(
        self,
        root_dir: Path,
        *,
        native_port: int = NATIVE_PORT,
        storage_port: int = STORAGE_PORT,
        heap: tuple[str, str] = ("256m", "768m"),
        lib: Path | None = None,
    ) -> None:
        self.root_dir = root_dir
        self.native_port = _free_near(native_port)
        self.storage_port = _free_near(storage_port)
        self.heap = heap
        self.lib = lib
        self.started_in: float | None = None  # seconds from launch to CQL answering
        self._process: ManagedProcess | None = None

    def url(self, keyspace: str) -> str:
        """The history URL of ``keyspace`` on this node."""
        return f"cassandra://{LOOPBACK}:{self.native_port}/{keyspace}"

    def argv(self, lib: Path) -> list[str]:
        conf = self.root_dir / "conf"
        jamm = sorted(lib.glob("jamm-*.jar"))[-1]
        return [
            find_java(),
            f"-Xms{self.heap[0]}",
            f"-Xmx{self.heap[1]}",
            f"-javaagent:{jamm}",  # Cassandra measures object sizes with jamm's agent
            *JVM17_OPTIONS,
            f"-Dcassandra.config={(conf / 'cassandra.yaml').as_uri()}",
            f"-Dlogback.configurationFile={conf / 'logback.xml'}",
            f"-Dcassandra.logdir={self.root_dir / 'logs'}",
            f"-Dcassandra.storagedir={self.root_dir}",
            "-Dcassandra.available_processors=2",
            "-cp",
            f"{lib}/*",
            MAIN_CLASS,
        ]

    def start(self, timeout: float = START_SECONDS) -> None:
        """Start the node and return once a CQL session can query it."""
        if self._process is not None and self._process.running:
            return
        lib = ensure_jars(self.lib)
        conf = self.root_dir / "conf"
        for sub in ("conf", "data", "commitlog", "saved_caches", "hints", "cdc_raw", "logs"):
            (self.root_dir / sub).mkdir(parents=True, exist_ok=True)
        (conf / "cassandra.yaml").write_text(
            _yaml(self.root_dir, self.native_port, self.storage_port)
        )
        (conf / "logback.xml").write_text(LOGBACK)
        began = time.monotonic()
        self._process = ManagedProcess(
            "cassandra",
            self.argv(lib),
            self.native_port,
            cwd=self.root_dir,
            log_path=self.root_dir / "cassandra.log",
        )
        self._process.start(timeout)
        try:
            self._query("SELECT release_version FROM system.local")
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        log.info("cassandra answered CQL %.1f s after launch", self.started_in)

    def create_keyspace(self, name: str, replication_factor: int = 1) -> str:
        """Create keyspace ``name`` (SimpleStrategy) if it is missing; returns the name."""
        self._query(
            f"CREATE KEYSPACE IF NOT EXISTS {name} WITH replication = "
            f"{{'class': 'SimpleStrategy', 'replication_factor': {replication_factor}}}"
        )
        return name

    def _query(self, cql: str) -> None:
        from cassandra.cluster import (  # type: ignore[import-untyped]  # noqa: PLC0415
            EXEC_PROFILE_DEFAULT,
            Cluster,
            ExecutionProfile,
        )
        from cassandra.policies import RoundRobinPolicy  # type: ignore[import-untyped]  # noqa: PLC0415

        profile = ExecutionProfile(load_balancing_policy=RoundRobinPolicy())
        cluster = Cluster(
            [LOOPBACK],
            port=self.native_port,
            protocol_version=5,
            execution_profiles={EXEC_PROFILE_DEFAULT: profile},
            connect_timeout=20,
        )
        try:
            cluster.connect().execute(cql, timeout=60)
        finally:
            cluster.shutdown()

    def stop(self) -> None:
        """SIGTERM (Cassandra drains and exits), SIGKILL after ``STOP_SECONDS``, then wait."""
        if self._process is not None:
            self._process.stop(timeout=STOP_SECONDS)
            self._process = None

    def __enter__(self) -> CassandraNode:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _free_near(port: int) -> int:
    base = port - port % 10
    candidates: list[int] = [port, *range(base, base + 10)]
    for candidate in candidates:
        if port_is_free(candidate):
            return candidate
    raise ServerFailed(f"ports {base}-{base + 9} on {LOOPBACK} are all taken")
