"""The ``matinee`` command line (Typer + Rich)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from matinee.db.migrate import Migration, upgrade
from matinee.db.urls import safe
from matinee.errors import MatineeError
from matinee.jobs.models import Job, JobState, TaskState
from matinee.jobs.progress import job_fraction, task_fraction
from matinee.platform import Platform, SubtitleFile
from matinee.settings import Settings

app = typer.Typer(help="matinee: an open-source streaming platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.")
app.add_typer(db_app, name="db")
console = Console()
err = Console(stderr=True)


def _platform() -> Platform:
    return Platform(Settings())


def _fail(exc: MatineeError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc}")
    return typer.Exit(code=1)


def _parse_subtitles(values: list[str]) -> list[SubtitleFile]:
    subs = []
    for value in values:
        lang, sep, file = value.partition("=")
        if not sep or not lang or not file:
            raise typer.BadParameter(f"{value!r}: expected LANG=FILE, e.g. eng=movie.en.srt")
        path = Path(file)
        if not path.is_file():
            raise typer.BadParameter(f"{file}: no such subtitle file")
        subs.append(SubtitleFile(lang, path))
    return subs


@app.command()
def ingest(
    path: Annotated[Path, typer.Argument(help="The master file to ingest.")],
    title: Annotated[str, typer.Option(help="Title to publish it under.")],
    subtitles: Annotated[
        list[str] | None, typer.Option("--subtitles", help="LANG=FILE (SRT or WebVTT), repeatable.")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Run the job now, showing progress.")] = True,
) -> None:
    """Upload a master and transcode it into a packaged HLS + DASH ladder."""
    subs = _parse_subtitles(subtitles or [])
    platform = _platform()
    try:
        job = platform.submit(path, title, subs)
    except MatineeError as exc:
        raise _fail(exc) from exc
    console.print(f"job [bold]{job.id}[/] recorded for {path.name!r}")
    if wait:
        state = _run_with_progress(platform, [job.id])
        final = platform.jobs.get(job.id)
        if state is JobState.FAILED:
            err.print(f"[bold red]job failed:[/] {escape(final.error or '')}")
            raise typer.Exit(code=1)
        console.print(f"[green]published[/] {title!r} as asset {job.id}")
        if final.error:  # a follow-up (quality scoring) failed; the title stays published
            err.print(f"[bold yellow]warning:[/] {escape(final.error)}")


@app.command()
def work() -> None:
    """Run every queued or interrupted job to its end (resumes after a crash)."""
    platform = _platform()
    ids = list(platform.jobs.unfinished())
    if not ids:
        console.print("no unfinished jobs")
        return
    state = _run_with_progress(platform, ids)
    for job in (platform.jobs.get(i) for i in ids):
        if job.state is JobState.FAILED:
            err.print(f"[bold red]job {job.id} failed:[/] {escape(job.error or '')}")
        elif job.error:
            err.print(f"[bold yellow]job {job.id}:[/] {escape(job.error)}")
    if state is JobState.FAILED:
        # Exit non-zero, as ``ingest`` does, so a script or service manager sees the failure.
        raise typer.Exit(code=1)


def _run_with_progress(platform: Platform, ids: list[str]) -> JobState:
    outcome: dict[str, JobState] = {}
    failure: list[BaseException] = []

    def drive() -> None:
        try:
            with platform.runner() as runner:
                for job_id in ids:
                    outcome[job_id] = runner.run(job_id)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread below
            failure.append(exc)

    thread = threading.Thread(target=drive, name="job-runner", daemon=True)
    thread.start()
    with _JobProgress(platform) as view:
        while thread.is_alive():
            view.update(ids)
            thread.join(timeout=0.5)
        view.update(ids)
    if failure:
        raise failure[0]
    return JobState.FAILED if JobState.FAILED in outcome.values() else JobState.SUCCEEDED


class _JobProgress:
    """Rich progress bars: one per job, one per task that is running or has run."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>5.1f}%"),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._bars: dict[str, TaskID] = {}

    def __enter__(self) -> _JobProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def _bar(self, key: str, description: str, fraction: float, status: str) -> None:
        if key not in self._bars:
            self._bars[key] = self._progress.add_task(description, total=1.0, status=status)
        self._progress.update(self._bars[key], completed=fraction, status=status)

    def update(self, ids: list[str]) -> None:
        for job_id in ids:
            job = self._platform.jobs.get(job_id)
            self._bar(
                job_id,
                f"[bold]{job.title}[/]",
                job_fraction(job, job.tasks),
                f"{job.state.value} {job.stage}",
            )
            for task in job.tasks:
                if task.state != TaskState.PENDING or task.attempts:
                    status = task.state.value + (
                        f" (try {task.attempts})" if task.attempts > 1 else ""
                    )
                    self._bar(
                        f"{job_id}/{task.name}", f"  {task.name}", task_fraction(task), status
                    )


@app.command()
def jobs(
    watch: Annotated[
        bool, typer.Option("--watch", help="Refresh until every job has ended.")
    ] = False,
    limit: Annotated[int, typer.Option(help="How many recent jobs to list.")] = 20,
) -> None:
    """List recent jobs with their state, stage and progress."""
    platform = _platform()
    if not watch:
        console.print(_jobs_table(platform.jobs.recent(limit)))
        return
    with Live(console=console, refresh_per_second=2) as live:
        while True:
            recent = platform.jobs.recent(limit)
            live.update(_jobs_table(recent, tasks=True))
            if all(j.state in (JobState.SUCCEEDED, JobState.FAILED) for j in recent):
                break
            time.sleep(0.5)


def _jobs_table(recent: Sequence[Job], *, tasks: bool = False) -> Table:
    table = Table("job", "title", "state", "stage", "progress", "error", title="jobs")
    for job in recent:
        color = {"succeeded": "green", "failed": "red", "running": "yellow"}.get(
            job.state.value, ""
        )
        table.add_row(
            job.id[:8],
            job.title,
            f"[{color}]{job.state.value}[/]" if color else job.state.value,
            job.stage,
            f"{job_fraction(job, job.tasks):.0%}",
            escape(job.error or ""),
        )
        if tasks and job.state == JobState.RUNNING:
            for t in job.tasks:
                if t.state == TaskState.RUNNING:
                    table.add_row(
                        "", f"  {t.name}", t.state.value, t.stage, f"{t.progress:.0%}", ""
                    )
    return table


@app.command()
def assets() -> None:
    """List published assets: renditions, bitrates and VMAF."""
    platform = _platform()
    found = platform.assets.all()
    if not found:
        console.print("no assets yet: try `matinee ingest FILE --title NAME`")
        return
    for asset in found:
        table = Table(
            "track",
            "size",
            "fps",
            "target",
            "avg",
            "peak",
            "VMAF",
            "VMAF min",
            "codecs",
            title=f"{asset.title} ({asset.id[:8]}, {asset.duration:.1f} s)",
        )
        for t in asset.tracks:
            size = f"{t.width}x{t.height}" if t.width else (t.language or "")
            table.add_row(
                f"{t.kind} {t.name}",
                size,
                t.frame_rate or "",
                f"{t.target_kbps}k" if t.target_kbps else "",
                _kbps(t.average_bps),
                _kbps(t.peak_bps),
                f"{t.vmaf_mean:.2f}" if t.vmaf_mean is not None else "",
                f"{t.vmaf_min:.2f}" if t.vmaf_min is not None else "",
                t.codecs or "",
            )
        console.print(table)


def _kbps(bps: int | None) -> str:
    return f"{bps / 1000:.0f}k" if bps else ""


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database (MATINEE_DATABASE_URL) to the newest schema: every pending migration."""
    settings = Settings()
    try:
        migration = upgrade(settings.resolved_database_url)
    except MatineeError as exc:
        raise _fail(exc) from exc
    _print_migration(settings, migration)


def _print_migration(settings: Settings, migration: Migration) -> None:
    where = escape(safe(settings.resolved_database_url))
    if migration.changed:
        console.print(
            f"database [bold]{where}[/]: migrated from "
            f"[bold]{migration.before or '(empty)'}[/] to [bold green]{migration.after}[/]"
        )
    else:
        console.print(f"database [bold]{where}[/] is up to date at [bold]{migration.after}[/]")


@app.command()
def serve() -> None:
    """Serve the platform as one process (the monolith) with its CDN edges beside it."""
    _serve_monolith(_platform())


def _seed(platform: Platform, *, force: bool = False) -> None:
    """Ingest the sample titles (with progress), then seed the household and the catalog."""
    import asyncio  # noqa: PLC0415

    from matinee.seed import ADMIN_PASSWORD, MEMBER_PASSWORD, SeedReport, seed  # noqa: PLC0415
    from matinee.web.demo import ensure_samples  # noqa: PLC0415

    ids = ensure_samples(platform, force=force)
    if ids:
        _run_with_progress(platform, ids)
    report: SeedReport = asyncio.run(
        seed(platform.settings.resolved_database_url, list(platform.assets.all()))
    )
    for line in report.created:
        console.print(f"[green]created[/] {line}")
    for line in report.skipped:
        console.print(f"[yellow]skipped[/] {line}")
    if report.kept:
        console.print(f"[dim]already there: {', '.join(report.kept)}[/]")
    console.print(
        f"sign in as [bold]{report.member_email}[/] / {MEMBER_PASSWORD} "
        f"(admin: {report.admin_email} / {ADMIN_PASSWORD})"
    )


@app.command()
def seed(
    force: Annotated[bool, typer.Option(help="Make and ingest the samples again.")] = False,
) -> None:
    """Create the demo household, the plans and a catalog from the sample titles."""
    try:
        _seed(_platform(), force=force)
    except MatineeError as exc:
        raise _fail(exc) from exc


@app.command()
def demo(
    force: Annotated[bool, typer.Option(help="Make and ingest the samples again.")] = False,
) -> None:
    """Seed the demo (sample titles, household, catalog), then serve it with its CDN edges
    (what `make run` does)."""
    platform = _platform()
    try:
        _seed(platform, force=force)
    except MatineeError as exc:
        raise _fail(exc) from exc
    _serve_monolith(platform)


@app.command()
def up(
    topology: Annotated[
        str | None, typer.Option(help="monolith (one process) or fleet (N processes per service).")
    ] = None,
    replicas: Annotated[
        int | None, typer.Option(min=1, help="Instances per service in a fleet.")
    ] = None,
) -> None:
    """Start the platform: the monolith by default, or a local fleet. Ctrl-C stops it cleanly."""
    overrides: dict[str, object] = {}
    if topology is not None:
        if topology not in ("monolith", "fleet"):
            raise typer.BadParameter(f"{topology!r}: choose monolith or fleet")
        overrides["topology"] = topology
    if replicas is not None:
        overrides["replicas"] = replicas
    settings = Settings().model_copy(update=overrides)
    try:
        if settings.topology == "fleet":
            _up_fleet(settings)
        else:
            _up_monolith(settings)
    except MatineeError as exc:
        raise _fail(exc) from exc


def _up_monolith(settings: Settings) -> None:
    from matinee.fleet.up import prepare  # noqa: PLC0415

    _print_migration(settings, prepare(settings))  # the one migration of `up`
    _serve_monolith(Platform(settings, migrate=False))


def _serve_monolith(platform: Platform) -> None:
    """The monolith until Ctrl-C, with ``MATINEE_EDGES`` edge processes beside it (the
    embedded default: origin plus two edges), recorded for ``matinee status``."""
    from matinee.fleet.edges import monolith_edges  # noqa: PLC0415
    from matinee.fleet.up import write_monolith_state  # noqa: PLC0415
    from matinee.runtime.monolith import serve as run_monolith  # noqa: PLC0415

    state = write_monolith_state(platform.settings)
    try:
        with monolith_edges(platform.settings) as edges:  # the CDN's edge processes
            run_monolith(platform, sidecars=edges)
    finally:
        state.unlink(missing_ok=True)


def _up_fleet(settings: Settings) -> None:
    from matinee.fleet.supervisor import InstanceRecord  # noqa: PLC0415
    from matinee.fleet.up import run_fleet  # noqa: PLC0415

    def ready(records: list[InstanceRecord]) -> None:
        table = Table("service", "instance", "port", "zone", "pid", title="fleet is up")
        for r in records:
            table.add_row(r.service, r.instance_id, str(r.port), r.zone, str(r.pid))
        console.print(table)
        console.print(
            f"front door: http://{settings.host}:{settings.port}/  (Ctrl-C stops the fleet; "
            f"logs in {settings.data_dir / 'logs'})"
        )

    console.print(f"starting a fleet of {settings.replicas} instance(s) per service ...")
    run_fleet(settings, on_ready=ready, on_migrated=lambda m: _print_migration(settings, m))
    console.print("fleet stopped")


@app.command()
def status() -> None:
    """Show every running instance: service, port, zone, pid, restarts and health."""
    from matinee.fleet.up import status as fleet_status  # noqa: PLC0415

    settings = Settings()
    found = fleet_status(settings)
    if not found:
        console.print("nothing is running: start it with `matinee up`")
        raise typer.Exit(code=1)
    table = Table("service", "instance", "port", "zone", "pid", "restarts", "health")
    for s in found:
        r = s.record
        color = "green" if s.health == "ready" else "yellow" if s.health == "starting" else "red"
        table.add_row(
            r.service,
            r.instance_id,
            str(r.port),
            r.zone,
            str(r.pid),
            str(r.restarts),
            f"[{color}]{s.health}[/]",
        )
    console.print(table)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()
