"""The one wrapper external tools run through: plain-words errors, timeouts, progress."""

from __future__ import annotations

import sys
import time

import pytest

from matinee.media import tools
from matinee.media.errors import ToolError, ToolTimeout


def test_failure_names_the_step_and_keeps_the_stderr_tail() -> None:
    script = "import sys; print('frame=  10 fps=0', file=sys.stderr); print('Invalid data found', file=sys.stderr); sys.exit(3)"  # noqa: E501
    with pytest.raises(ToolError) as info:
        tools.run([sys.executable, "-c", script], what="encode chunk 7")
    err = info.value
    assert str(err).startswith("encode chunk 7 failed (exit 3): ")
    assert "Invalid data found" in str(err)
    assert "frame=" not in err.detail  # progress noise is dropped
    assert sys.executable in err.command  # the exact command, shell-quoted


def test_progress_lines_are_not_mistaken_for_the_error() -> None:
    script = "import sys; print('out_time_us=100', file=sys.stderr); sys.exit(1)"
    with pytest.raises(ToolError) as info:
        tools.run([sys.executable, "-c", script], what="step")
    assert info.value.detail == ""
    assert "no error output" in str(info.value)


def test_timeout_stops_the_process() -> None:
    start = time.monotonic()
    with pytest.raises(ToolTimeout, match=r"took longer than 0\.5 s"):
        tools.run([sys.executable, "-c", "import time; time.sleep(30)"], what="slow", timeout=0.5)
    assert time.monotonic() - start < 10


def test_stderr_lines_stream_to_a_callback() -> None:
    seen: list[str] = []
    script = "import sys\nfor i in range(3): print(f'out_time_us={i}', file=sys.stderr)"
    result = tools.run([sys.executable, "-c", script], what="progress", on_stderr_line=seen.append)
    assert seen == ["out_time_us=0", "out_time_us=1", "out_time_us=2"]
    assert result.stderr.count("out_time_us") == 3


def test_bundled_binaries_exist() -> None:
    b = tools.binaries()
    for path in (b.ffmpeg, b.ffprobe, b.packager):
        result = tools.run([path, "-version"] if "packager" not in path else [path, "--version"],
                           what="version")  # fmt: skip
        assert result.stdout or result.stderr


def test_streaming_mode_also_honours_the_timeout() -> None:
    start = time.monotonic()
    script = "import sys, time\nprint('out_time_us=1', file=sys.stderr, flush=True)\ntime.sleep(30)"
    with pytest.raises(ToolTimeout):
        tools.run([sys.executable, "-c", script], what="slow", timeout=0.5, on_stderr_line=print)
    assert time.monotonic() - start < 10


def test_packager_info_lines_are_not_mistaken_for_the_error() -> None:
    script = (
        "import sys\n"
        "print('I1124 05:58:10.549771 7451 demuxer.cc:159] Initialize Demuxer', file=sys.stderr)\n"
        "print('E1124 05:58:10.6 7451 packager_main.cc:678] Packaging Error: 6', file=sys.stderr)\n"
        "sys.exit(1)"
    )
    with pytest.raises(ToolError) as info:
        tools.run([sys.executable, "-c", script], what="package")
    assert "Packaging Error: 6" in info.value.detail
    assert "Initialize Demuxer" not in info.value.detail


def test_the_progress_parser_turns_positions_into_shares_of_the_whole() -> None:
    seen: list[float] = []
    parse = tools.progress_parser(8.0, seen.append)
    for line in ["frame=10", "out_time_us=2000000", "out_time_us=N/A", "out_time_us=9000000"]:
        parse(line)
    assert seen == [0.25, 1.0]  # N/A is skipped; past the end counts as done
