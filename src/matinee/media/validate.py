"""Decide whether a probed master can be ingested; every rejection is an :class:`InvalidMaster`
whose message says why in plain words.

Size rule: at most 8192 px on either side (DCI 8K width; also lets a portrait 4320x7680 phone
master through) AND at most 7680x4320 = 33,177,600 pixels (UHD-2 8K), measured on the coded
frame, which is what the decoder must hold. At least 64 px on every side, coded and displayed.

Truncation is judged by :func:`probe_and_validate` with two cheap, decode-free checks:

1. :func:`check_structure`, for MP4/MOV and Matroska/WebM: compare the sizes the container
   declares with the file size (MP4: walk the top-level boxes, 16 bytes read per box; Matroska:
   the Segment size in the first 64 bytes). A box or segment that claims to end past the end of
   the file is the exact signature of an interrupted copy, wherever the cut fell: in the media
   data of a faststart file, or in (or before) a trailing ``moov`` index.
2. :func:`check_tail`, for any container: demux, without decoding, the packets of the last few
   seconds. The file is cut short if ffprobe fails, if a packet comes back flagged corrupt
   (partially read), or if the data ends more than :data:`_END_SLACK_SECONDS` before the duration
   the headers declare. MPEG-TS declares no duration, so a TS cut at a packet boundary is just a
   shorter, valid stream.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, BinaryIO

from matinee.media import tools
from matinee.media.errors import InvalidMaster, ToolError, ToolTimeout
from matinee.media.probe import ProbeResult, probe

MAX_SIDE = 8192
MAX_PIXELS = 7680 * 4320
MIN_SIDE = 64
MIN_SECONDS = 1.0
_TAIL_SECONDS = 3.0  # how much of the end to demux; the seek lands on the keyframe before it
_END_SLACK_SECONDS = 0.5  # muxers round durations; real truncation loses far more, or a packet
_MP4_FIRST_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"styp"})
_EBML_MAGIC = bytes.fromhex("1a45dfa3")
_SEGMENT_ID = 0x18538067


def validate(result: ProbeResult) -> None:
    """Reject a master whose probed properties are out of bounds (no I/O)."""
    name = Path(result.path).name
    durations = (result.duration, result.video.duration)
    if not all(math.isfinite(d) and d > 0 for d in durations):
        raise InvalidMaster(
            f"unreadable timestamps: {name} does not state a valid duration "
            f"(container {result.duration}, video {result.video.duration})"
        )
    if result.duration < MIN_SECONDS:
        raise InvalidMaster(
            f"{name} is too short: {result.duration:.2f} s; a master must last at least "
            f"{MIN_SECONDS:g} s"
        )
    v = result.video
    if max(v.width, v.height) > MAX_SIDE or v.width * v.height > MAX_PIXELS:
        raise InvalidMaster(
            f"{name} is {v.width}x{v.height}, above the 8K limit (at most {MAX_SIDE} px on a "
            f"side and 7680x4320 = {MAX_PIXELS:,} pixels)"
        )
    if min(v.width, v.height, v.display_width, v.display_height) < MIN_SIDE:
        raise InvalidMaster(
            f"{name} is {v.width}x{v.height} (displayed {v.display_width}x{v.display_height}), "
            f"below the {MIN_SIDE} px minimum on a side"
        )


def probe_and_validate(path: Path, *, timeout: float = 60.0) -> ProbeResult:
    """Probe ``path``, check its properties, then check it is complete; return the probe."""
    check_structure(path)  # first, so a cut MP4 says "truncated" however ffprobe copes with it
    result = probe(path, timeout=timeout)
    validate(result)
    check_tail(result, timeout=timeout)
    return result


def check_structure(path: Path) -> None:
    """Raise :class:`InvalidMaster` if an MP4/MOV box or the Matroska segment overruns the file.
    Other containers, and a missing or empty file (which :func:`probe` reports), pass."""
    if not path.is_file():
        return
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(64)
        if head[4:8] in _MP4_FIRST_BOXES:
            _check_mp4_boxes(path, f, size)
        elif head[:4] == _EBML_MAGIC:
            _check_matroska_segment(path, head, size)


def check_tail(result: ProbeResult, *, timeout: float = 60.0) -> None:
    """Raise :class:`InvalidMaster` if the last seconds of the file cannot be demuxed."""
    _check_tail(Path(result.path), result.duration, timeout=timeout)


def _truncated(path: Path, why: str) -> InvalidMaster:
    return InvalidMaster(f"the file is truncated or unreadable: {path.name} {why}")


def _check_mp4_boxes(path: Path, f: BinaryIO, size: int) -> None:
    offset = 0
    while offset + 8 <= size:
        f.seek(offset)
        header = f.read(16)
        box_size, box_type = int.from_bytes(header[:4], "big"), header[4:8]
        if not (box_type.isascii() and box_type.decode("ascii").isprintable()):
            return  # trailing bytes that are not a box: nothing more to learn
        if box_size == 1:  # a 64-bit size follows the type
            box_size = int.from_bytes(header[8:16], "big")
        elif box_size == 0:  # "extends to the end of the file": the tail scan judges it
            return
        if box_size < 8 or offset + box_size > size:
            raise _truncated(
                path,
                f"ends inside its '{box_type.decode('ascii')}' box "
                f"({size:,} of {offset + box_size:,} bytes)",
            )
        offset += box_size


def _check_matroska_segment(path: Path, head: bytes, size: int) -> None:
    """EBML header element, then the Segment, whose size a seekable muxer fills in at the end."""
    _, pos = _vint(head, 0, keep_marker=True)  # EBML header ID
    header_size, pos = _vint(head, pos)
    if header_size is None or pos + header_size + 12 > len(head):
        return
    pos += header_size
    segment_id, pos = _vint(head, pos, keep_marker=True)
    segment_size, pos = _vint(head, pos)
    if segment_id == _SEGMENT_ID and segment_size is not None and pos + segment_size > size:
        raise _truncated(
            path, f"ends inside its Matroska segment ({size:,} of {pos + segment_size:,} bytes)"
        )


def _vint(data: bytes, pos: int, *, keep_marker: bool = False) -> tuple[int | None, int]:
    """An EBML variable-length integer at ``pos``: (value, next position); value None when the
    size is "unknown" (all value bits set), as a live muxer writes it."""
    length = 9 - data[pos].bit_length()  # leading zero bits + 1
    if not 1 <= length <= 8 or pos + length > len(data):
        return None, len(data)
    raw = int.from_bytes(data[pos : pos + length], "big")
    if keep_marker:
        return raw, pos + length
    value = raw & ((1 << (7 * length)) - 1)
    return (None if value == (1 << (7 * length)) - 1 else value), pos + length


def _check_tail(path: Path, declared: float, *, timeout: float) -> None:
    # Demux only (no decoding) from a few seconds before the declared end to the real end; the
    # window is measured from zero, so a non-zero start time (MPEG-TS) only widens it a little.
    args: list[str | Path] = [tools.binaries().ffprobe, "-v", "error", "-print_format", "json"]
    args += ["-read_intervals", f"{max(0.0, declared - _TAIL_SECONDS):.3f}%"]
    args += [
        "-show_entries",
        "format=start_time,duration:packet=pts_time,dts_time,duration_time,flags",
    ]
    report = _run_json(path, args, timeout=timeout)
    fmt = report.get("format", {})
    start = _float(fmt.get("start_time"), 0.0)
    end = start + _float(fmt.get("duration"), declared)
    packets: list[dict[str, Any]] = report.get("packets", [])
    if any("C" in str(p.get("flags", "")) for p in packets):
        raise _truncated(path, "has a packet cut short near its end")
    ends = [
        _float(p.get("pts_time", p.get("dts_time")), math.nan) + _float(p.get("duration_time"), 0)
        for p in packets
    ]
    last = max((e for e in ends if math.isfinite(e)), default=math.nan)
    if not math.isfinite(last):
        raise _truncated(path, "has no readable data near its end")
    if last < end - _END_SLACK_SECONDS:
        raise _truncated(path, f"declares {end - start:.2f} s but its data stops at {last:.2f} s")


def _run_json(path: Path, args: list[str | Path], *, timeout: float) -> dict[str, Any]:
    try:
        out = tools.run([*args, path], what=f"scan the end of {path.name}", timeout=timeout).stdout
        report = json.loads(out)
    except ToolTimeout:
        raise
    except (ToolError, json.JSONDecodeError) as exc:
        raise _truncated(path, "could not be read to its end") from exc
    if not isinstance(report, dict):
        raise _truncated(path, "could not be read to its end")
    return report


def _float(value: object, default: float) -> float:
    try:
        return float(str(value))
    except ValueError:
        return default
