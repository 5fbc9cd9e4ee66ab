"""The processes and data behind ``bench/services_api.py``: one fleet of single instances on one
database, seeded through the services' own Python APIs and signed in through the gateway.

A :class:`Stack` is a registry, media, identity, billing, catalog, playback and a gateway, each
``python -m matinee.runtime.instance`` on its own loopback port (16400-16479), sharing one data
directory (so one identity key and one URL-signing key) and ``MATINEE_DATABASE_URL``. It is
migrated with ``matinee db upgrade`` before anything starts.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy.engine import make_url

from matinee.assets.models import Asset, Track
from matinee.clock import SystemClock
from matinee.db.aio import Database
from matinee.gateway.auth import Identity, identity_headers
from matinee.platform import Platform
from matinee.runtime.config import identity_key, url_signing_key
from matinee.services.billing.provider import TestProvider
from matinee.services.billing.schemas import SubscribeIn
from matinee.services.billing.service import BillingService
from matinee.services.catalog.assets import from_record
from matinee.services.catalog.schemas import TitleCreate, WindowIn
from matinee.services.catalog.service import CatalogService
from matinee.services.identity.profiles import ProfileFields, Profiles
from matinee.services.identity.service import IdentityService
from matinee.settings import Settings
from matinee.telemetry.metrics import Registry
from matinee.testing.servers.process import port_is_free

SERVICES = ("media", "identity", "billing", "catalog", "playback")
PORTS = (16400, 16479)
MEMBERS = 16  # accounts: each sign-in, title page and start rotates over them
DEVICES = 4  # per account: the premium plan's stream limit
TITLES = 2  # a device alternates between them, so every start takes a new lease

# The runtime config of every process (MATINEE_RUNTIME_CONFIG). Every request of a run comes
# from one address, so the gateway's per-client rate limit (100/s) is raised out of reach (the
# filter still runs). Bulkheads: the default of 10 calls in flight per dependency (Hystrix's
# thread-pool default) is below the 16 connections of a run, so a gateway or a playback
# instance would refuse its own callers; they get 256, above anything a run sends (Zuul's own
# default is 100 semaphores). Call timeouts are 5 s (the gateway's playback route already has
# 5 s): 16 playback starts at once on 2 cores keep a queue whose tail passes the default 1 s
# (p99 2-3 s on SQLite), and timeouts would open the breakers, so the run would measure fast
# failures instead of the work. Instances fetch the registry
# every 5 s instead of 30 s, so a stack is ready sooner. Each instance's adaptive concurrency
# limit starts and bottoms at 64 instead of 20: a playback start makes two calls to catalog at
# once, so 16 connections put 32 calls in flight there, and a catalog refusing them (503
# overloaded) opens playback's breaker. The gateway's load shedding keeps running but aims at
# a mean latency of 5 s instead of 0.5 s: it takes each route's mean latency from the requests
# it admits only, so once a route is shed entirely it stays shed until the 5 s latency window
# lapses, and the first answer after that sets the mean outright; on this shared machine one
# slow moment then shed 30-50 thousand title pages (or sign-ins) in a 10 s run, and the run
# measured 503s. Everything else is the default: breakers, retries.
RUNTIME_TOML = """\
[discovery]
registry_fetch_interval = 5.0

[default_dependency]
timeout_s = 5.0
max_concurrent = 256

[dependencies.identity]
timeout_s = 5.0
max_concurrent = 256

[limit]
initial = 64
min = 64

[gateway.rate_limit]
rate = 1000000.0
burst = 1000000.0

[gateway.shedding]
target_latency = 5.0
"""

LADDER = (("360p-800k", 640, 360), ("720p-3000k", 1280, 720), ("1080p-6000k", 1920, 1080))


_handed_out: set[int] = set()


def next_port() -> int:
    """A free port of ``PORTS`` not handed out before (a process may not have bound it yet)."""
    for port in range(PORTS[0], PORTS[1] + 1):
        if port not in _handed_out and port_is_free(port):
            _handed_out.add(port)
            return port
    raise SystemExit(f"no free port left in {PORTS[0]}-{PORTS[1]}")


@dataclass
class Member:
    """A bench account: its password, and a session with its profile selected."""

    email: str
    password: str
    account_id: str = ""
    profile_id: str = ""
    token: str = ""
    identity: Identity | None = None


@dataclass
class Household:
    members: list[Member] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)


def http(
    url: str, body: object = None, headers: dict[str, str] | None = None, timeout: float = 10.0
) -> tuple[int, Any]:
    """A request to our own loopback stack: (status, JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    sent = {"content-type": "application/json", **(headers or {})}
    request = urllib.request.Request(url, data=data, headers=sent)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 - loopback
            raw = resp.read()
            status = int(resp.status)
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    return status, json.loads(raw) if raw.strip() else None


async def _seed(settings: Settings, url: str) -> Household:
    clock = SystemClock()
    household = Household()
    db = Database(url)
    try:
        identity = IdentityService(db, clock)  # the default cost: argon2id, 19 MiB, t=2
        profiles = Profiles(db, clock, identity)
        billing = BillingService(db, TestProvider(clock), clock, Registry(clock))
        for n in range(MEMBERS):
            member = Member(f"bench-{n}@matinee.test", f"bench password {n}")
            account = await identity.create_account(member.email, member.password, "US")
            fields = ProfileFields("Bench", "owl", "en", 18, kids=False)
            member.account_id = account.id
            member.profile_id = (await profiles.create(account.id, fields)).id
            card = SubscribeIn(
                plan="premium",
                card_number=TestProvider.SUCCEEDS,
                exp_month=12,
                exp_year=2040,
                cvc="123",
            )
            (await billing.subscribe(account.id, card, f"bench-{n}")).raise_if_error()
            household.members.append(member)
        asset = _asset(settings)
        catalog = CatalogService(db, clock)
        since = datetime.now(UTC) - timedelta(days=1)
        for n in range(TITLES):
            title = await catalog.create_title(
                TitleCreate(
                    kind="movie",
                    name=f"Bench Feature {n}",
                    synopsis="A title for the API benchmark.",
                    genres=["Drama"],
                    maturity=13,
                    release_year=2025,
                    runtime_s=120,
                )
            )
            await catalog.link_asset(title.id, from_record(asset))
            await catalog.set_availability(title.id, [WindowIn(country="US", starts_at=since)])
            await catalog.set_published(title.id, True)
            household.titles.append(title.id)
    finally:
        await db.close()
    return household


def _asset(settings: Settings) -> Asset:
    """A packaged asset's record (the bench plays no media, so no files are needed)."""
    tracks = [
        Track(kind="video", name=name, width=w, height=h, average_bps=h * 4000, codecs="avc1")
        for name, w, h in LADDER
    ]
    tracks.append(Track(kind="audio", name="eng-0", language="en", codecs="mp4a.40.2"))
    asset = Asset(
        id="bench-asset",
        job_id="bench-asset",
        title="Bench Feature",
        prefix="assets/bench-asset",
        hls_key="assets/bench-asset/master.m3u8",
        dash_key="assets/bench-asset/manifest.mpd",
        duration=120.0,
        width=1920,
        height=1080,
        probe={},
        created_at=datetime.now(UTC),
        tracks=tracks,
    )
    assets = Platform(settings, migrate=False).assets
    assets.add(asset)
    stored = assets.get(asset.id)  # with its tracks loaded, as the media service reads it
    assert stored is not None
    return stored


class Stack:
    """One fleet on one database; :meth:`stop` ends every process it started."""

    def __init__(self, name: str, database_url: str, root: Path) -> None:
        self.name = name
        self.database_url = database_url
        self.dir = root / f"stack-{name}"
        self.dir.mkdir(parents=True)
        (self.dir / "runtime.toml").write_text(RUNTIME_TOML)
        self.settings = Settings(data_dir=self.dir / "data", database_url=database_url)
        self.env = {
            **os.environ,
            "MATINEE_DATA_DIR": str(self.settings.data_dir),
            "MATINEE_DATABASE_URL": database_url,
            "MATINEE_RUNTIME_CONFIG": str(self.dir / "runtime.toml"),
        }
        self.ports: dict[str, int] = {}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.household = Household()
        self.extra_pids: list[int] = []  # the database server's, counted in CPU time

    def url(self, service: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def migrate(self) -> str:
        """``matinee db upgrade`` on the stack's database; its last line of output."""
        matinee = Path(sys.executable).with_name("matinee")
        done = subprocess.run(
            [str(matinee), "db", "upgrade"],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"matinee db upgrade failed:\n{done.stdout}{done.stderr}")
        return done.stdout.strip().splitlines()[-1]

    def seed(self) -> None:
        identity_key(self.settings)  # made once, before any process races to make it
        url_signing_key(self.settings)
        self.household = asyncio.run(_seed(self.settings, self.database_url))

    def _spawn(self, service: str) -> subprocess.Popen[bytes]:
        port = self.ports[service] = next_port()
        argv = [sys.executable, "-m", "matinee.runtime.instance", "--service", service]
        argv += ["--port", str(port), "--instance-id", f"{self.name}-{service}-0"]
        argv += ["--log-level", "WARNING", "--registry-url", self.url("registry", "/eureka")]
        with (self.dir / f"{service}.log").open("wb") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        self.procs[service] = proc
        return proc

    def _wait(self, what: str, check: Any, within: float = 120.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise SystemExit(f"{self.name}: {name} exited with {proc.returncode}")
            try:
                if check():
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"{self.name}: {what} was not ready within {within:g} s")

    def start(self) -> None:
        self._spawn("registry")
        self._wait("the registry", lambda: http(self.url("registry", "/healthz"))[0] == 200)
        for service in SERVICES:
            self._spawn(service)
        for service in SERVICES:
            self._wait(service, lambda s=service: http(self.url(s, "/readyz"))[0] == 200)
        self._spawn("gateway")
        # Through the gateway: every service found (anonymous calls; playback answers 401).
        probes = {
            "/api/identity/avatars": 200,
            "/api/billing/plans": 200,
            f"/api/catalog/titles/{self.household.titles[0]}": 200,
            "/api/assets/bench-asset": 200,
        }
        for path, status in probes.items():
            url = self.url("gateway", path)
            self._wait(url, lambda u=url, s=status: http(u)[0] == s)
        start = self.url("gateway", "/api/playback/start")
        self._wait("playback", lambda: http(start, {"title_id": "x"})[0] == 401)

    def sign_in(self) -> None:
        """A session per member, through the gateway, with its profile selected."""
        for m in self.household.members:
            body = {"email": m.email, "password": m.password}
            status, session = http(self.url("gateway", "/api/identity/signin"), body)
            if status != 200:
                raise SystemExit(f"{self.name}: sign-in answered {status}: {session}")
            select = f"/api/identity/profiles/{m.profile_id}/select"
            auth = {"authorization": f"Bearer {session['token']}"}
            status, session = http(self.url("gateway", select), {}, auth)
            if status != 200:
                raise SystemExit(f"{self.name}: selecting a profile answered {status}: {session}")
            m.token = session["token"]
            validate = self.url("identity", "/internal/identity/sessions/validate")
            status, info = http(validate, {"token": m.token})
            if status != 200:
                raise SystemExit(f"{self.name}: validating a session answered {status}: {info}")
            m.identity = Identity(
                info["account_id"],
                profile=info["profile_id"],
                roles=tuple(info["roles"]),
                session=info["session_id"],
                expires=float(info["expires_at"]),
                country=info["country"],
            )

    def signed(self, member: Member) -> dict[str, str]:
        """The identity headers the gateway would add for ``member``, signed now."""
        assert member.identity is not None
        key = identity_key(self.settings)
        return dict(identity_headers(member.identity, key, time.time()))

    def stop(self) -> None:
        for proc in reversed(self.procs.values()):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def tail(self) -> str:
        out = []
        for name in self.procs:
            log = (self.dir / f"{name}.log").read_text(errors="replace")
            out.append(f"--- {self.name} {name} log (tail) ---\n{log[-1500:]}")
        return "\n".join(out)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system, children included) of each process so far; the database
        server's processes as ``db``."""
        pids = [(name, proc.pid) for name, proc in self.procs.items()]
        pids += [("db", pid) for pid in self.extra_pids]
        out: dict[str, float] = {}
        for name, pid in pids:
            total = 0.0
            try:
                top = psutil.Process(pid)
                for p in [top, *top.children(recursive=True)]:
                    t = p.cpu_times()
                    total += t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                pass
            out[name] = out.get(name, 0.0) + total
        return out


def postgres_pids(url: str) -> list[int]:
    """The postmaster of the PostgreSQL server at ``url`` (its backends are its children):
    the ``postgres`` process started with ``-c port=<the url's port>``."""
    port = f"port={make_url(url).port}"
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "postgres" and port in (proc.info["cmdline"] or []):
            found.append(proc.pid)
    return found
