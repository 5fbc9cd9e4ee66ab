"""The edge's hit path in nginx, as Netflix's Open Connect appliances serve: the Python edge
keeps the control plane, nginx sends the bytes.

With ``--front nginx`` an edge is two processes on one port:

* **nginx** listens on the edge's public address and answers ``GET|HEAD
  /t/<token>/media/assets/...`` from the edge's ``objects/`` folder with ``sendfile`` (ranges,
  conditional requests, the origin's validators, immutable caching, CORS) when two things hold,
  both checked by nginx itself, with no script: the raw request is plain (a regular expression
  over ``$request_uri``: a v1-shaped token, segments of plain characters, none empty or starting
  with a dot, no percent-encoding, no query string, not a manifest), and a **grant** exists for
  it: the file ``grants/<client address>/<token>/<folder>/.grant``, which the Python edge makes
  once it has allowed a request of that token, from that address, in that folder (signature,
  expiry, path prefix, bound address and height cap, all of them). So nginx never holds the
  URL-signing key, and a check costs one ``stat`` through its open-file cache.
  :class:`Grants` removes a token's grants ``GRANT_MARGIN`` seconds before it expires, so nginx
  (which may trust a cached ``stat`` for ``open_file_cache_valid``) never serves a token past its
  expiry: the last seconds of a token's life are judged by the Python edge.
* **Everything else goes to the Python edge unchanged** (``proxy_pass`` with the raw request
  URI): the first request of each token in each folder, misses (filled from a peer, then the
  origin), refusals (400/403 in plain words), manifests (cut to the token's height), peers'
  requests, ``/edge/report``, ``/edge/fill``, health. The client's address travels in
  ``X-Forwarded-For``. So nginx never refuses anything itself, and every answer other than a
  hit is the Python edge's.
* **Hits reach the eviction policy** through nginx's access log: nginx logs the key and bytes of
  each object it served (buffered, flushed every second); the edge reads the new lines each
  second (:class:`HitLog`), counts them in its report and touches the keys in its policy.
  The log is rotated past ``ROTATE_BYTES`` (rename, then ``SIGUSR1``).

nginx runs as one process beside the Python edge, started and stopped by it; it dies with the
edge (``PR_SET_PDEATHSIG``), so a killed edge never leaves nginx holding the port, and if nginx
exits on its own the edge starts it again (with no grants: they are made again as requests come).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import heapq
import ipaddress
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from matinee.cdn import nginx
from matinee.delivery.http import CONTENT_TYPES, CORS, IMMUTABLE
from matinee.errors import MatineeError
from matinee.runtime.server import accepts_connections

log = logging.getLogger(__name__)

HITS_LOG = "hits.log"
ROTATE_BYTES = 16 << 20
START_SECONDS = 10.0
STOP_SECONDS = 10.0
# How long nginx may trust a cached stat (a grant's or an object's), in seconds.
STAT_VALID_S = 2
# A token's grants go this long before it expires: nginx's cached stat, plus the housekeeping
# second that sweeps them, plus slack. The Python edge judges the token's last seconds itself.
GRANT_MARGIN_S = STAT_VALID_S + 3.0
MAX_GRANTS = 100_000  # (address, token, folder) grants at once; past it the Python edge serves
MAX_FOLDERS_PER_TOKEN = 32  # a play needs one per rendition, audio and text track it fetches
MAX_TOKENS_PER_ADDRESS = 64  # plays from one address (a household behind one NAT, say)
GRANT_FILE = ".grant"  # no path segment nginx serves starts with a dot: never an object's name
DOWN = json.dumps(
    {
        "error": "edge_unavailable",
        "message": "This edge cannot answer that now: try the next address on your list.",
    }
)
FRONTS = ("python", "nginx", "auto")
STATUS_PATH = "/_front/status"
STATUS_TIMEOUT = 0.5
_WRITING = re.compile(rb"Writing: (\d+)")


# What nginx may answer itself, on the raw request line (the same patterns in nginx.conf and
# here, so the Python edge grants only what nginx could use): a v1-shaped token short enough to
# be a file name, then a media path of plain segments (none empty or starting with a dot, no
# percent-encoding, no query string), and not a manifest (the Python edge cuts those).
TOKEN_PATTERN = r"v1\.[A-Za-z0-9_-]{1,200}\.[A-Za-z0-9_-]{43}"  # noqa: S105 - a shape
_SEGMENT = r"[A-Za-z0-9_~-][A-Za-z0-9_.~-]{0,99}"
FOLDER_PATTERN = rf"media/assets/(?:{_SEGMENT}/){{0,8}}"
LEAF_PATTERN = rf"{_SEGMENT}(?<!\.m3u8)(?<!\.mpd)"
OBJECT_PATTERN = FOLDER_PATTERN + LEAF_PATTERN
# An IPv4 address, or anything of hex digits, colons and dots with a colon in it (IPv6): never
# `.` or `..`, so never a path step out of the grants' folder.
ADDRESS_PATTERN = r"(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f:]{0,39}:[0-9A-Fa-f:.]{0,39})"
_TOKEN = re.compile(TOKEN_PATTERN)
_OBJECT = re.compile(rf"(?P<folder>{FOLDER_PATTERN}){LEAF_PATTERN}")
_ADDRESS = re.compile(ADDRESS_PATTERN)


class EdgeFrontError(MatineeError):
    """nginx in front of the edge cannot start."""


@dataclass(frozen=True)
class FrontConfig:
    """``root``: nginx's folder (config, logs, scratch); ``objects``: the edge's object folder;
    ``host``/``port``: the edge's public address; ``backend``: where the Python edge listens."""

    root: Path
    objects: Path
    host: str
    port: int
    backend_port: int
    edge_id: str
    trust_forwarded: bool = False
    keepalive: int = 32

    @property
    def conf_path(self) -> Path:
        return self.root / "nginx.conf"

    @property
    def grants(self) -> Path:
        return self.root / "grants"

    @property
    def hits_log(self) -> Path:
        return self.root / HITS_LOG


class Grants:
    """The files that let nginx serve what the Python edge has allowed: one per (client address,
    token, folder), ``<root>/<address>/<token>/<folder>/.grant``, each token's removed
    ``margin`` seconds before it expires (:meth:`sweep`, every second).

    Bounded, so a token holder cannot fill the table or the disk: ``limit`` grants in all,
    ``MAX_FOLDERS_PER_TOKEN`` per token, ``MAX_TOKENS_PER_ADDRESS`` tokens per address, folders
    at most 8 deep with segments of at most 100 characters, and only for objects the edge
    holds. Past a bound the Python edge keeps serving those requests itself. When a token's
    grants cannot be removed, every grant goes at once (the folder is renamed aside): serving
    from Python is slower, an expired token served is wrong."""

    def __init__(
        self, root: Path, *, margin: float = GRANT_MARGIN_S, limit: int = MAX_GRANTS
    ) -> None:
        self.root = root
        self._margin = margin
        self._limit = limit
        self._granted: dict[tuple[str, str], set[str]] = {}  # (address, token) -> folders
        self._expiring: list[tuple[int, str, str]] = []  # heap of (expires, address, token)
        self._tokens: Counter[str] = Counter()
        self._count = 0
        self.refused = 0  # grants not made: a bound reached, or the disk refused

    def reset(self) -> None:
        """No grants (nginx is about to start, or they could not be removed one by one)."""
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
        self._forget_all()

    def _forget_all(self) -> None:
        self._granted.clear()
        self._expiring.clear()
        self._tokens.clear()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def path(self, address: str, token: str, folder: str) -> Path:
        return self.root / address / token / folder / GRANT_FILE

    def grant(self, address: str | None, token: str, path: str, expires: int, now: float) -> bool:
        """Let nginx serve ``path``'s folder to ``address`` with ``token`` (which the caller has
        allowed for ``path``, from ``address``, until ``expires``, and holds). False when nginx
        could not use it (an odd address, token or path, too close to expiry) or a bound is
        reached."""
        if address is None:
            return False
        folders = self._granted.get((address, token))
        folder = path[: path.rfind("/") + 1]
        if folders is not None and folder in folders:
            if self.path(address, token, folder).exists():
                return True
            folders.discard(folder)  # removed from under us: made again below
            self._count -= 1
        if not self._usable(address, token, path, expires, now):
            return False
        if (
            self._count >= self._limit
            or (folders is None and self._tokens[address] >= MAX_TOKENS_PER_ADDRESS)
            or (folders is not None and len(folders) >= MAX_FOLDERS_PER_TOKEN)
        ):
            self.refused += 1
            return False
        grant = self.path(address, token, folder)
        try:
            grant.parent.mkdir(parents=True, exist_ok=True)
            grant.touch()
        except OSError as exc:
            self.refused += 1
            log.warning("cannot make a grant for nginx (%s); the Python edge serves it", exc)
            return False
        if folders is None:
            folders = self._granted[(address, token)] = set()
            heapq.heappush(self._expiring, (expires, address, token))
            self._tokens[address] += 1
        folders.add(folder)
        self._count += 1
        return True

    def _usable(self, address: str, token: str, path: str, expires: int, now: float) -> bool:
        """Whether nginx would look for this grant (the same patterns as its config) and it
        would outlive the margin."""
        return (
            bool(
                _ADDRESS.fullmatch(address) and _TOKEN.fullmatch(token) and _OBJECT.fullmatch(path)
            )
            and _is_ip(address)
            and expires - self._margin > now
        )

    def sweep(self, now: float) -> int:
        """Remove the grants of tokens that expire within the margin; how many went. If some
        cannot be removed, all go (see the class)."""
        removed = 0
        expiring = self._expiring
        while expiring and expiring[0][0] - self._margin <= now:
            _, address, token = expiring[0]
            try:
                shutil.rmtree(self.root / address / token)
            except FileNotFoundError:
                pass
            except OSError:
                log.exception("cannot remove expiring grants: removing every grant")
                return removed + self._remove_all()
            with contextlib.suppress(OSError):
                (self.root / address).rmdir()  # when it was the address's last token
            heapq.heappop(expiring)
            folders = self._granted.pop((address, token))
            self._tokens[address] -= 1
            if not self._tokens[address]:
                del self._tokens[address]
            removed += len(folders)
            self._count -= len(folders)
        return removed

    def _remove_all(self) -> int:
        count = self._count
        aside = self.root.with_name(f"{self.root.name}.stale")
        shutil.rmtree(aside, ignore_errors=True)
        self.root.rename(aside)  # one rename, whatever is inside; if it fails, the caller logs
        self._forget_all()
        self.root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(aside, ignore_errors=True)
        return count

    def describe(self) -> dict[str, int]:
        return {"grants": self._count, "grants_refused": self.refused}


def _is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (for the Python edge behind nginx)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def available() -> str | None:
    """Why nginx cannot front an edge here (no nginx), or None when it can."""
    try:
        nginx.nginx_binary()
    except nginx.NginxMissing as exc:
        return str(exc)
    return None


def choose(front: str) -> str:
    """``python`` or ``nginx`` for a requested front (``auto``: nginx when installed)."""
    if front not in FRONTS:
        raise EdgeFrontError(f"an edge's front is one of {', '.join(FRONTS)}, not {front!r}")
    if front != "auto":
        return front
    missing = available()
    if missing is not None:
        log.info("edge hit path in Python: %s", missing)
        return "python"
    return "nginx"


def _header(name: bytes, value: bytes) -> str:
    return f'        add_header {name.decode()} "{value.decode()}";\n'


def render(config: FrontConfig) -> str:
    """nginx.conf of the front (no key in it: nginx never checks a signature, see
    :class:`Grants`)."""
    root = config.root
    types = "".join(f"        {ctype} {ext[1:]};\n" for ext, ctype in CONTENT_TYPES.items())
    hit_headers = _header(b"cache-control", IMMUTABLE.encode()) + "".join(
        _header(name, value) for name, value in CORS
    )
    hit_headers += _header(b"x-cache", b"HIT") + _header(b"x-served-by", config.edge_id.encode())
    hit_headers += _header(b"x-edge-front", b"nginx")  # this hit never reached Python
    forwarded = "$proxy_add_x_forwarded_for" if config.trust_forwarded else "$remote_addr"
    if config.trust_forwarded:  # the first address in X-Forwarded-For, as the Python edge reads
        client = f"""    map $http_x_forwarded_for $edge_client {{
        "~^\\s*(?<edge_first>{ADDRESS_PATTERN})\\s*(?:,|$)" $edge_first;
        "" $remote_addr;
        default -;
    }}
"""
    else:
        client = """    map $remote_addr $edge_client {
        default $remote_addr;
    }
"""
    request = f"^(?:GET|HEAD) /t/(?<edge_token>{TOKEN_PATTERN})/"
    proxy = f"""            proxy_pass http://edge$request_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For {forwarded};
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
            proxy_send_timeout 60s;
"""
    return f"""# Written by matinee (matinee.cdn.edge.front) at every start.
{nginx.preamble(root)}
http {{
    access_log off;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 60s;
    keepalive_requests 100000;
    client_max_body_size 5m;
    max_ranges 1;
    open_file_cache max=10000 inactive=30s;
    open_file_cache_valid {STAT_VALID_S}s;
{nginx.scratch_paths(root)}
    types {{
{types}    }}
    default_type application/octet-stream;

    # A plain request for a media object: the object's key, else "".
    map "$request_method $request_uri" $edge_object {{
        "~{request}(?<edge_key>{OBJECT_PATTERN})$" $edge_key;
        default "";
    }}
    # Its grant, relative to the client's folder of grants.
    map "$request_method $request_uri" $edge_grant {{
        "~{request}(?<edge_folder>{FOLDER_PATTERN}){LEAF_PATTERN}$"
            $edge_token/$edge_folder{GRANT_FILE};
        default "";
    }}
{client}
    map $status $edge_logged {{
        200 1;
        206 1;
        304 1;
        default 0;
    }}
    log_format edge_hits '$edge_object $body_bytes_sent';

    upstream edge {{
        server 127.0.0.1:{config.backend_port};
        keepalive {config.keepalive};
    }}

    server {{
        listen {config.host}:{config.port} backlog=2048;
        root "{config.objects}";
        error_page 502 504 = @down;
        recursive_error_pages on;

        location /t/ {{
            error_page 418 = @edge;
            error_page 502 504 = @down;
            if ($edge_object = "") {{
                return 418;
            }}
            if (!-f "{config.grants}/$edge_client/$edge_grant") {{
                return 418;
            }}
            try_files /$edge_object @edge;
            access_log {config.hits_log} edge_hits buffer=64k flush=1s if=$edge_logged;
{hit_headers}        }}

        location @edge {{
{proxy}        }}

        # nginx's own counters, for the edge's load report (from this machine only).
        location = {STATUS_PATH} {{
            stub_status;
            allow 127.0.0.1;
            deny all;
        }}

        location / {{
{proxy}        }}

        location @down {{
            default_type application/json;
            add_header access-control-allow-origin "*" always;
            return 503 '{DOWN}';
        }}
    }}
}}
"""


def _prctl() -> Callable[..., int] | None:
    try:
        found: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None  # not Linux: nginx is stopped by the edge, not by the kernel
    return found


_PRCTL = _prctl()  # looked up here, not in the forked child (no dlopen after fork)
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the edge process dies (Linux)."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL)


class HitLog:
    """Reads the lines nginx appended to its hit log since the last read: ``(key, bytes)``."""

    def __init__(self, path: Path, *, rotate_bytes: int = ROTATE_BYTES) -> None:
        self.path = path
        self.rotated = path.with_name(path.name + ".1")
        self._rotate_bytes = rotate_bytes
        self._offset = 0
        self._partial = b""
        self._draining_old = False

    def reset(self) -> None:
        """Start afresh (nginx is about to start on an empty log)."""
        self.path.unlink(missing_ok=True)
        self.rotated.unlink(missing_ok=True)
        self._offset, self._partial, self._draining_old = 0, b"", False

    def read(self) -> list[tuple[str, int]]:
        """New hits. Once a rotation is under way (:meth:`should_rotate` said so and nginx
        reopened its log), the rest of the old file is read first and the old file deleted."""
        hits: list[tuple[str, int]] = []
        if self._draining_old:
            if not self.path.exists():
                return hits  # nginx has not reopened yet: the old file still grows
            hits += self._read_from(self.rotated)
            self.rotated.unlink(missing_ok=True)
            self._offset, self._partial, self._draining_old = 0, b"", False
        hits += self._read_from(self.path)
        return hits

    def should_rotate(self) -> bool:
        """True (and the log renamed) when it has grown past the limit: the caller then asks
        nginx to reopen its logs."""
        if self._draining_old or self._offset < self._rotate_bytes:
            return False
        self.path.rename(self.rotated)
        self._draining_old = True
        return True

    def _read_from(self, path: Path) -> list[tuple[str, int]]:
        try:
            with path.open("rb") as file:
                file.seek(self._offset)
                data = file.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        hits = []
        for line in lines:
            key, _, size = line.rpartition(b" ")
            if key and size.isdigit():
                hits.append((key.decode("utf-8", "replace"), int(size)))
        return hits


class NginxFront:
    """nginx serving the edge's hits, as a child of the edge process."""

    def __init__(self, config: FrontConfig) -> None:
        self.config = config
        self.grants = Grants(config.grants)
        self.hits = HitLog(config.hits_log)
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = False
        self.restarts = 0

    def write_config(self) -> Path:
        """Write nginx.conf and make nginx's folders."""
        config = self.config
        config.root.mkdir(parents=True, exist_ok=True)
        self.grants.reset()
        nginx.make_scratch(config.root)
        config.conf_path.write_text(render(config))
        return config.conf_path

    async def start(self) -> None:
        """Write the config, start nginx and wait until it listens (EdgeFrontError if not)."""
        conf = self.write_config()
        self.hits.reset()
        (self.config.root / "nginx.pid").unlink(missing_ok=True)
        self._stopping = False
        argv = nginx.argv(self.config.root, conf)
        # A plain child (not an asyncio one): it is not bound to the loop that started it.
        self._process = subprocess.Popen(  # noqa: ASYNC220 - a fork and exec, no waiting
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")},
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, before exec
        )
        await self._wait_listening()
        log.info(
            "edge hit path: nginx (pid %d) on %s:%d in front of 127.0.0.1:%d",
            self._process.pid,
            self.config.host,
            self.config.port,
            self.config.backend_port,
        )

    async def _wait_listening(self) -> None:
        """Until nginx has written its pid file (it does once its sockets are bound, so
        another server on the port is not taken for it) and accepts a connection."""
        process = self._process
        if process is None:
            raise EdgeFrontError("nginx in front of the edge was not started")
        pid_file = self.config.root / "nginx.pid"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_SECONDS
        while loop.time() < deadline:
            if process.poll() is not None:
                raise EdgeFrontError(f"nginx in front of the edge exited at start: {self._why()}")
            try:
                bound = pid_file.read_text().strip() == str(process.pid)
            except OSError:
                bound = False
            if bound and await accepts_connections(self.config.host, self.config.port):
                return
            await asyncio.sleep(0.02)
        await self.stop()
        raise EdgeFrontError(f"nginx did not listen on port {self.config.port}: {self._why()}")

    def _why(self) -> str:
        try:
            lines = (self.config.root / "error.log").read_text().strip().splitlines()
        except OSError:
            return "no error log"
        return lines[-1] if lines else "no error logged"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    async def in_flight(self) -> int | None:
        """Requests nginx is answering now (its ``stub_status`` "Writing", less this one), or
        None when it does not say within ``STATUS_TIMEOUT``."""
        config = self.config
        try:
            async with asyncio.timeout(STATUS_TIMEOUT):
                reader, writer = await asyncio.open_connection(config.host, config.port)
                try:
                    writer.write(f"GET {STATUS_PATH} HTTP/1.0\r\n\r\n".encode())
                    answer = await reader.read(4096)
                finally:
                    writer.close()
        except (OSError, TimeoutError):
            return None
        found = _WRITING.search(answer)
        return max(0, int(found.group(1)) - 1) if found else None

    def read_hits(self) -> list[tuple[str, int]]:
        """Hits nginx served since the last call; rotates the log when it has grown."""
        hits = self.hits.read()
        process = self._process
        if process is not None and process.poll() is None and self.hits.should_rotate():
            process.send_signal(signal.SIGUSR1)  # reopen: a new, empty hits.log
        return hits

    async def keep_running(self) -> None:
        """Start nginx again if it exited on its own."""
        if self._stopping or self._process is None or self.running:
            return
        log.error("nginx in front of the edge exited (%s); starting it again", self._why())
        self.restarts += 1
        await self.start()

    async def stop(self) -> None:
        """Graceful: nginx stops accepting and finishes what it serves (SIGQUIT), then SIGKILL
        after ``STOP_SECONDS``."""
        self._stopping = True
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGQUIT)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STOP_SECONDS
        while process.poll() is None and loop.time() < deadline:  # noqa: ASYNC110 - a child
            await asyncio.sleep(0.02)
        if process.poll() is None:
            process.kill()
            process.wait()
