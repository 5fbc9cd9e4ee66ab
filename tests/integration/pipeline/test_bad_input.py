"""Bad masters: each is submitted as a job and run for real. The job fails at the probe, once,
with the cause in plain words; nothing is published, and the user's master is kept."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest
from typer.testing import CliRunner

from matinee.cli import app
from matinee.jobs.models import JobState, TaskState
from matinee.media import tools
from matinee.media.samples import SampleSpec, make_sample
from matinee.platform import Platform
from matinee.testing.pipeline import ingest

from .conftest import assert_nothing_published, cli_env, keys_under

pytestmark = pytest.mark.slow

MATINEE = Path(sys.executable).with_name("matinee")
SMALL = SampleSpec(width=320, height=180, fps=Fraction(25), seconds=2.0, gop=25)


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _truncated(path: Path) -> None:
    """The first half of a good MP4, as an interrupted copy leaves it."""
    good = make_sample(path.with_name(f"whole-{path.name}"), SMALL)
    data = good.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _text(path: Path) -> None:
    path.write_text("Shopping list: eggs, flour, milk. Definitely not a video.\n" * 20)


def _audio_only(path: Path) -> None:
    ffmpeg = tools.binaries().ffmpeg
    args = [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "lavfi"]
    args += ["-i", "sine=frequency=440:sample_rate=48000", "-t", "2", "-c:a", "aac", str(path)]
    tools.run(args, what="make an audio-only master")


def _tiny(path: Path) -> None:
    make_sample(path, SampleSpec(width=48, height=48, fps=Fraction(25), seconds=2.0))


def _too_short(path: Path) -> None:
    make_sample(path, SampleSpec(width=320, height=180, fps=Fraction(25), seconds=0.5))


# name -> (how to make the master, words the error must contain)
BAD_MASTERS: dict[str, tuple[Callable[[Path], None], str]] = {
    "zero-byte": (_empty, "empty"),
    "truncated": (_truncated, "truncated"),
    "text": (_text, "contains text"),
    "audio-only": (_audio_only, "no video stream"),
    "48x48": (_tiny, "below the 64 px minimum"),
    "half-second": (_too_short, "too short"),
}


@pytest.fixture(scope="module")
def bad_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bad")


def _bad_master(bad_dir: Path, kind: str) -> Path:
    path = bad_dir / f"{kind}.mp4"
    if not path.exists():
        BAD_MASTERS[kind][0](path)
    return path


@pytest.mark.parametrize("kind", list(BAD_MASTERS))
def test_a_bad_master_fails_once_in_plain_words_and_is_kept(
    platform: Platform, bad_dir: Path, kind: str
) -> None:
    master = _bad_master(bad_dir, kind)
    original = master.read_bytes()

    job_id, state = ingest(platform, master, f"Bad: {kind}")  # no exception escapes the runner

    assert state is JobState.FAILED
    error = platform.jobs.get(job_id).error or ""
    assert BAD_MASTERS[kind][1] in error
    if kind in ("zero-byte", "text"):  # these errors name the file: the user's, not the copy's
        assert master.name in error
    assert "Traceback" not in error
    assert not re.search(r"\b\w+(Error|Exception): ", error)  # no Python exception names
    # Bad input is not retried, and the job stops at the probe.
    (probe,) = platform.jobs.tasks(job_id)
    assert (probe.name, probe.state, probe.attempts) == ("probe", TaskState.FAILED, 1)
    assert_nothing_published(platform, job_id)
    # The user's data is not lost: the uploaded master stays in the store, byte for byte.
    (kept,) = keys_under(platform.objects, f"masters/{job_id}/")
    assert platform.objects.read_bytes(kept) == original
    assert master.read_bytes() == original


def test_the_cli_reports_a_zero_byte_master_without_a_traceback(
    platform: Platform, bad_dir: Path
) -> None:
    master = _bad_master(bad_dir, "zero-byte")
    env = cli_env(platform.settings.data_dir, x264_preset="ultrafast", workers="1")
    env["COLUMNS"] = "200"  # keep Rich from wrapping the message

    run = subprocess.run(
        [MATINEE, "ingest", master, "--title", "Empty"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 1, run.stdout + run.stderr
    assert "job failed: the file is empty" in run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    assert platform.assets.all() == []


def test_the_cli_reports_a_missing_master_clearly(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MATINEE_DATA_DIR", str(platform.settings.data_dir))
    monkeypatch.setenv("COLUMNS", "200")
    missing = tmp_path / "no-such-film.mov"

    result = CliRunner().invoke(app, ["ingest", str(missing), "--title", "Ghost"])

    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a clean exit, not a crash
    assert "no-such-film.mov does not exist or is not a file" in result.output
    assert platform.jobs.recent() == []  # nothing was recorded


def test_work_exits_non_zero_when_a_queued_job_fails(
    platform: Platform, bad_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MATINEE_DATA_DIR", str(platform.settings.data_dir))
    monkeypatch.setenv("MATINEE_WORKERS", "1")
    monkeypatch.setenv("COLUMNS", "200")
    master = _bad_master(bad_dir, "text")
    queued = CliRunner().invoke(app, ["ingest", str(master), "--title", "Text", "--no-wait"])
    assert queued.exit_code == 0, queued.output
    (job,) = platform.jobs.recent()
    assert job.state is JobState.QUEUED

    result = CliRunner().invoke(app, ["work"])

    assert result.exit_code == 1, result.output
    assert f"job {job.id} failed: not a video file" in result.output
    assert platform.jobs.get(job.id).state is JobState.FAILED
