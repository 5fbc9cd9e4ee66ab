"""The platform the browser tests drive: sample titles ingested, the demo household and catalog
seeded, then the monolith served by uvicorn on a free port with one CDN edge beside it.

Ingest is the slow part, so the samples are short and small (a few seconds, at most 640x360),
and the long multi-rung title the ABR test needs is only made when a selected test asks for it.
Everything is ingested before the monolith starts, so no job runner of the media service ever
races this process for a job.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Final

from matinee.assets.models import Asset
from matinee.clock import SystemClock
from matinee.db.aio import Database
from matinee.fleet.edges import edges_state_path, plan_edges, sidecar_instances
from matinee.fleet.supervisor import Supervisor
from matinee.jobs.models import JobState
from matinee.media.ladder import Ladder, Rung
from matinee.media.samples import AudioSpec, SampleSpec, make_sample
from matinee.platform import Platform
from matinee.runtime.config import load_runtime_config
from matinee.runtime.monolith import Monolith
from matinee.seed import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    MEMBER_EMAIL,
    MEMBER_PASSWORD,
    publish_movie,
    seed,
)
from matinee.services.catalog.service import CatalogService
from matinee.settings import Settings
from matinee.testing.discovery import ThreadedServer
from matinee.testing.servers import pick_port

# The seeded titles take their video from these assets (matinee.seed names them by title);
# small versions of `make run`'s samples. Mandelbrot is the one the playback tests watch:
# 16 s at 640x360, so it has two renditions and room to stop half way and resume.
SAMPLES: Final[dict[str, SampleSpec]] = {
    "Mandelbrot": SampleSpec(
        pattern="mandelbrot", width=640, height=360, seconds=16, audio=(AudioSpec("eng", 330),)
    ),
    "Game of Life": SampleSpec(
        pattern="life", width=320, height=180, seconds=6, audio=(AudioSpec("eng", 392),)
    ),
    "Colour Bars": SampleSpec(
        pattern="bars", width=320, height=180, seconds=6, audio=(AudioSpec("eng", 440),)
    ),
    "Test Card": SampleSpec(
        pattern="testsrc",
        width=320,
        height=180,
        seconds=6,
        fps=Fraction(30),
        audio=(AudioSpec("eng", 523), AudioSpec("fra", 659)),
    ),
}

# The ABR test's title: long enough to switch down and back up, four rungs from 144p to 480p
# (low resolutions keep the encode short). Bitrates are far apart so a throttle picks one.
LADDER_TITLE: Final = "Ladder Test"
LADDER_SAMPLE: Final = SampleSpec(
    pattern="testsrc", width=854, height=480, seconds=48, audio=(AudioSpec("eng", 440),)
)
LADDER_RUNGS: Final = (
    Rung(width=256, height=144, bitrate_kbps=150),
    Rung(width=426, height=240, bitrate_kbps=450),
    Rung(width=640, height=360, bitrate_kbps=1000),
    Rung(width=854, height=480, bitrate_kbps=2000),
)

EDGE_PORTS: Final = (16300, 16349)
# Pages on other origins (a studio's upload page): the first one's origin is allowed by the
# gateway's CORS policy, any other is not.
PAGE_PORTS: Final = (16700, 16749)
START_TIMEOUT_S: Final = 60.0


@dataclass(frozen=True)
class Login:
    email: str
    password: str


MEMBER: Final = Login(MEMBER_EMAIL, MEMBER_PASSWORD)  # premium, profiles Alex, Jamie, Kids
ADMIN: Final = Login(ADMIN_EMAIL, ADMIN_PASSWORD)


@dataclass
class Stack:
    """The served platform: its front door and the catalog ids of the seeded titles."""

    base_url: str
    platform: Platform
    titles: dict[str, str] = field(default_factory=dict)  # catalog name -> title id
    studio_port: int = 0  # a page served on this port may call the API cross-origin

    def url(self, path: str) -> str:
        return self.base_url + "/" + path.lstrip("/")

    def title_id(self, name: str) -> str:
        if name not in self.titles:
            raise LookupError(f"no title {name!r} was seeded; there are {sorted(self.titles)}")
        return self.titles[name]


def fast_settings(
    data_dir: Path,
    *,
    port: int,
    edge_base_port: int,
    web_dist: Path,
    runtime_config: Path | None = None,
) -> Settings:
    """Fast encodes (ultrafast, short chunks and segments), one CDN edge."""
    return Settings(
        data_dir=data_dir,
        runtime_config=runtime_config,
        web_dist=web_dist,
        x264_preset="ultrafast",
        workers=2,
        chunk_seconds=4.0,
        segment_seconds=2.0,
        vmaf_subsample=8,
        host="127.0.0.1",
        port=port,
        edges=1,
        edge_base_port=edge_base_port,
        log_level="WARNING",
    )


def ingest_samples(platform: Platform, *, with_ladder: bool) -> list[Asset]:
    """Make and ingest the samples (and the ladder title when asked); fails on a failed job."""
    folder = platform.settings.data_dir / "samples"
    jobs: list[str] = []
    for title, spec in SAMPLES.items():
        master = make_sample(folder / f"{title.lower().replace(' ', '-')}.mp4", spec)
        jobs.append(platform.submit(master, title).id)
    if with_ladder:
        master = make_sample(folder / "ladder.mp4", LADDER_SAMPLE)
        ladder: Ladder = platform.ladder().model_copy(update={"rungs": LADDER_RUNGS})
        jobs.append(platform.submit(master, LADDER_TITLE, ladder=ladder).id)
    with platform.runner() as runner:
        for job_id in jobs:
            if runner.run(job_id) is not JobState.SUCCEEDED:
                job = platform.jobs.get(job_id)
                raise RuntimeError(f"ingest of the sample {job.title!r} failed: {job.error}")
    return list(platform.assets.all())


async def seed_catalog(database_url: str, assets: list[Asset]) -> dict[str, str]:
    """The demo household and catalog (matinee.seed), plus the ladder title when ingested;
    returns every title's id by name."""
    await seed(database_url, assets)
    db = Database(database_url)
    try:
        catalog = CatalogService(db, SystemClock())
        ladder = next((a for a in assets if a.title == LADDER_TITLE), None)
        if ladder is not None:
            synopsis = "Test patterns on a ladder of four renditions, for switching."
            await publish_movie(catalog, ladder, synopsis)
        titles: dict[str, str] = {}
        cursor: str | None = None
        while True:
            page = await catalog.admin_titles(kind=None, sort="name", cursor=cursor, limit=100)
            titles.update((t.name, t.id) for t in page.items)
            cursor = page.next_cursor
            if cursor is None:
                return titles
    finally:
        await db.close()


@contextmanager
def edges(settings: Settings) -> Iterator[Supervisor]:
    """The monolith's CDN edges (as `matinee up` runs them), told where the platform's data
    directory is so they verify the same URL-signing key."""
    env = {"MATINEE_DATA_DIR": str(settings.data_dir)}
    specs = [replace(spec, env=env) for spec in plan_edges(settings, origin=base_url(settings))]
    supervisor = Supervisor(
        specs, state_path=edges_state_path(settings), log_dir=settings.data_dir / "logs"
    )
    stop = threading.Event()
    watcher = threading.Thread(target=supervisor.run, args=(stop,), name="edges", daemon=True)
    supervisor.start()
    watcher.start()
    try:
        yield supervisor
    finally:
        stop.set()
        watcher.join()
        supervisor.stop(timeout=15.0)


def base_url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.port}"


@contextmanager
def serve(platform: Platform) -> Iterator[str]:
    """The monolith (with its edges) on ``settings.port`` until the block ends; yields its URL."""
    settings = platform.settings
    with edges(settings):
        app = Monolith(
            settings,
            load_runtime_config(settings),
            platform=platform,
            sidecars=sidecar_instances(settings),
        )
        server = ThreadedServer(
            app,
            settings.port,
            host=settings.host,
            start_seconds=START_TIMEOUT_S,
            loop="auto",
            http="auto",
        )
        with server:
            yield base_url(settings)


@contextmanager
def running_stack(
    data_dir: Path, port: int, *, web_dist: Path, with_ladder: bool
) -> Iterator[Stack]:
    """Ingest, seed and serve (the web app from ``web_dist``); the platform for one session."""
    studio_port = pick_port(*PAGE_PORTS)
    runtime = data_dir.parent / "runtime.toml"
    runtime.write_text(f'[gateway.cors]\nallowed_origins = ["http://127.0.0.1:{studio_port}"]\n')
    settings = fast_settings(
        data_dir,
        port=port,
        edge_base_port=pick_port(*EDGE_PORTS),
        web_dist=web_dist,
        runtime_config=runtime,
    )
    platform = Platform(settings)
    assets = ingest_samples(platform, with_ladder=with_ladder)
    titles = asyncio.run(seed_catalog(settings.resolved_database_url, assets))
    with serve(platform) as url:
        yield Stack(url, platform, titles, studio_port=studio_port)
