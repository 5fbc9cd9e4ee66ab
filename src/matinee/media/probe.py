"""Probe a studio master with ffprobe: container, primary video stream, audio tracks.

Two ffprobe runs: one for the container and stream headers, one bounded packet scan over the first
:data:`_SCAN_PACKETS` video packets (demux only, no decoding) to see whether frame intervals are
regular. Every failure is converted here into :class:`InvalidMaster` in plain words, except a
:class:`ToolTimeout`, which is left as is: a slow disk is not proof that the master is bad.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import statistics
from dataclasses import dataclass, fields
from fractions import Fraction
from pathlib import Path
from typing import Any

from matinee.media import tools
from matinee.media.errors import InvalidMaster, ToolError, ToolTimeout

_SCAN_PACKETS = 300
# Broadcast and cinema rates; a rate within 0.1 % of one of these snaps to it exactly.
_STANDARD_RATES = tuple(
    Fraction(r) for r in ("24000/1001", "24", "25", "30000/1001", "30", "48", "50", "60000/1001",
                          "60", "100", "120000/1001", "120")
)  # fmt: skip
_MAX_SANE_RATE = 120
_INTERLACED_ORDERS = frozenset({"tt", "bb", "tb", "bt"})
_HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})
_FRACTION_FIELDS = frozenset({"sar", "display_aspect", "frame_rate"})


@dataclass(frozen=True)
class VideoInfo:
    index: int
    codec: str
    profile: str | None
    width: int  # coded (storage) size
    height: int
    sar: Fraction  # 1 when unknown
    rotation: int  # clockwise degrees to apply for display: 0, 90, 180 or 270
    display_width: int  # after SAR correction, then rotation
    display_height: int
    display_aspect: Fraction
    frame_rate: Fraction  # the constant rate to normalise to
    variable_frame_rate: bool
    interlaced: bool
    field_order: str | None
    pix_fmt: str
    bit_depth: int
    color_transfer: str | None
    color_primaries: str | None
    color_space: str | None
    hdr: bool
    frame_count: int | None
    duration: float  # seconds; NaN when the file does not say


@dataclass(frozen=True)
class AudioInfo:
    index: int
    codec: str
    channels: int
    channel_layout: str | None
    sample_rate: int
    language: str  # ISO 639-2, "und" when untagged
    title: str | None


@dataclass(frozen=True)
class ProbeResult:
    path: str
    container: str
    format_long_name: str
    duration: float  # seconds; NaN when the file does not say
    size: int
    bit_rate: int | None
    video: VideoInfo
    audio: tuple[AudioInfo, ...]

    def to_dict(self) -> dict[str, object]:
        """Strict JSON: Fractions become "num/den" strings, a NaN duration becomes null."""
        out = _encode(self)
        out["video"] = _encode(self.video)
        out["audio"] = [_encode(a) for a in self.audio]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ProbeResult:
        """Inverse of :meth:`to_dict`; ``KeyError``/``TypeError``/``ValueError`` if malformed."""
        audio = data["audio"]
        if not isinstance(audio, list):
            raise TypeError("audio must be a list")
        return cls(
            **_decode(cls, data, skip=("video", "audio")),
            video=VideoInfo(**_decode(VideoInfo, data["video"])),
            audio=tuple(AudioInfo(**_decode(AudioInfo, a)) for a in audio),
        )


def probe(path: Path, *, timeout: float = 60.0) -> ProbeResult:
    """Describe the master at ``path``; raises :class:`InvalidMaster` if ffprobe cannot read it."""
    report = _ffprobe(path, ["-show_format", "-show_streams"], timeout=timeout)
    try:
        fmt = report["format"]
        if re.fullmatch(r"tty|image2|\w+_pipe", str(fmt["format_name"])):  # text, a lone picture
            raise InvalidMaster(f"not a video file: {path.name} is a {fmt.get('format_long_name')}")
        streams: list[dict[str, Any]] = report.get("streams", [])
        video = next((s for s in streams if _is_main_video(s)), None)
        if video is None:
            kinds = ", ".join(str(s.get("codec_type")) for s in streams) or "no streams at all"
            raise InvalidMaster(f"{path.name} has no video stream (found: {kinds})")
        scan_args = ["-select_streams", str(video["index"])]
        # Demux (never decode) the first packets: enough to see irregular frame intervals.
        scan_args += ["-read_intervals", f"%+#{_SCAN_PACKETS}"]
        scan_args += ["-show_entries", "packet=pts,dts,duration"]
        packets = _ffprobe(path, scan_args, timeout=timeout).get("packets", [])
        return ProbeResult(
            path=str(path),
            container=str(fmt["format_name"]),
            format_long_name=str(fmt.get("format_long_name", "")),
            duration=_seconds(fmt.get("duration")),
            size=int(fmt.get("size") or path.stat().st_size),
            bit_rate=_int_or_none(fmt.get("bit_rate")),
            video=_video_info(path, video, packets, _seconds(fmt.get("duration"))),
            audio=tuple(_audio_info(s) for s in streams if s.get("codec_type") == "audio"),
        )
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise InvalidMaster(f"ffprobe's report on {path.name} could not be read: {exc!r}") from exc


def _ffprobe(path: Path, extra: list[str], *, timeout: float) -> dict[str, Any]:
    if not path.is_file():
        raise InvalidMaster(f"{path.name} does not exist or is not a file")
    if path.stat().st_size == 0:
        raise InvalidMaster(f"the file is empty: {path.name} has zero bytes")
    args = [tools.binaries().ffprobe, "-v", "error", "-print_format", "json", *extra, str(path)]
    try:
        out = tools.run(args, what=f"probe {path.name}", timeout=timeout).stdout
    except ToolTimeout:
        raise
    except ToolError as exc:
        raise InvalidMaster(_explain_failure(path, exc.detail)) from exc
    try:
        report = json.loads(out)
    except json.JSONDecodeError as exc:
        raise InvalidMaster(f"ffprobe's report on {path.name} is not valid JSON") from exc
    if not isinstance(report, dict):
        raise InvalidMaster(f"ffprobe's report on {path.name} is not a JSON object")
    return report


def _explain_failure(path: Path, detail: str) -> str:
    """Plain words for an ffprobe failure, guessing from the first bytes of the file."""
    with path.open("rb") as f:
        head = f.read(512)
    detail = "; ".join(
        dict.fromkeys(  # drop ffmpeg's "[mov,mp4 @ 0x7f..]" and "path:" prefixes, and repeats
            re.sub(r"^(\[[^]]* @ 0x[0-9a-f]+\]|.*?: )\s*", "", line, count=1)
            for line in detail.splitlines()
        )
    )
    if _looks_like_text(head):
        return f"not a video file: {path.name} contains text"
    if head[4:8] in {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"styp"}:
        # An MP4/MOV whose index (moov) never arrived: the usual shape of an interrupted upload.
        return (
            f"the file is truncated or unreadable: {path.name} is an incomplete MP4/MOV ({detail})"
        )
    return f"not a video file, or damaged beyond reading: {path.name} ({detail})"


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:  # a multi-byte character cut at the 512-byte boundary
        if exc.start < len(head) - 3:
            return False
        text = head[: exc.start].decode("utf-8")
    return bool(text) and all(c.isprintable() or c in "\r\n\t\f" for c in text)


def _is_main_video(stream: dict[str, Any]) -> bool:
    attached = stream.get("disposition", {}).get("attached_pic", 0)
    return stream.get("codec_type") == "video" and not attached


def _video_info(
    path: Path, s: dict[str, Any], packets: list[dict[str, Any]], fallback_duration: float
) -> VideoInfo:
    width, height = int(s.get("width", 0)), int(s.get("height", 0))
    if width <= 0 or height <= 0:
        raise InvalidMaster(f"{path.name}: the video stream does not state its picture size")
    sar = _fraction(s.get("sample_aspect_ratio")) or Fraction(1)
    rotation = _rotation(s)
    display_w, display_h = int(width * sar + Fraction(1, 2)), height
    if rotation in (90, 270):
        display_w, display_h = display_h, display_w
    field_order = s.get("field_order") if s.get("field_order") not in (None, "unknown") else None
    interlaced = field_order in _INTERLACED_ORDERS
    time_base = _fraction(s.get("time_base")) or Fraction(1, 90000)
    pts = sorted(
        int(p["pts"] if "pts" in p else p["dts"]) for p in packets if "pts" in p or "dts" in p
    )
    if not pts:
        raise InvalidMaster(
            f"unreadable timestamps: no video packet in {path.name} carries a timestamp"
        )
    rate, vfr = _frame_rate(s, pts, time_base, complete=len(packets) < _SCAN_PACKETS)
    if rate is None:
        raise InvalidMaster(f"unreadable timestamps: {path.name} gives no usable frame rate")
    transfer = _known(s.get("color_transfer"))
    duration = _seconds(s.get("duration"))
    if math.isnan(duration):  # Matroska keeps per-stream durations out of the headers
        duration = fallback_duration
    counted = len(packets) if len(packets) < _SCAN_PACKETS else None
    return VideoInfo(
        index=int(s["index"]),
        codec=str(s["codec_name"]),
        profile=s.get("profile"),
        width=width,
        height=height,
        sar=sar,
        rotation=rotation,
        display_width=display_w,
        display_height=display_h,
        display_aspect=Fraction(display_w, display_h).limit_denominator(1000),
        frame_rate=rate,
        variable_frame_rate=vfr,
        interlaced=interlaced,
        field_order=field_order,
        pix_fmt=str(s.get("pix_fmt", "unknown")),
        bit_depth=_bit_depth(s),
        color_transfer=transfer,
        color_primaries=_known(s.get("color_primaries")),
        color_space=_known(s.get("color_space")),
        hdr=transfer in _HDR_TRANSFERS,
        frame_count=_int_or_none(s.get("nb_frames")) or counted,
        duration=duration,
    )


def _rotation(s: dict[str, Any]) -> int:
    """Clockwise degrees to display. ffprobe reports the display matrix counter-clockwise
    (rotation=90 is what ``-display_rotation 90`` writes, and autorotate undoes it with
    ``transpose=cclock``), so the clockwise angle is its negation."""
    for side in s.get("side_data_list", []):
        if "rotation" in side:
            return (-round(float(side["rotation"]) / 90) * 90) % 360
    # Old ffmpeg exported the angle as a "rotate" tag, already clockwise.
    return (round(float(s.get("tags", {}).get("rotate", 0)) / 90) * 90) % 360


def _frame_rate(
    s: dict[str, Any], pts: list[int], time_base: Fraction, *, complete: bool
) -> tuple[Fraction | None, bool]:
    """The nominal rate to normalise to, and whether the frame intervals vary."""
    real, avg = _fraction(s.get("r_frame_rate")), _fraction(s.get("avg_frame_rate"))
    # Raw H.264 and some MPEG-TS report the field rate: r_frame_rate is exactly twice the average.
    if real and avg and abs(real / avg - 2) < Fraction(1, 100):
        real = avg
    # Packets arrive in decode order: when the scan stopped early, the last sorted timestamps may
    # have gaps that later (reordered) packets would fill, so they are left out.
    window = pts if complete else pts[:-16]
    gaps = [b - a for a, b in itertools.pairwise(window)]
    median = Fraction(statistics.median_low(gaps)) if gaps else Fraction(0)
    slack = max(median * Fraction(5, 100), Fraction(1))  # 5 %, but at least one time-base tick
    vfr = any(abs(g - median) > slack for g in gaps)
    sane_real = real if real and real <= _MAX_SANE_RATE else None
    if sane_real and avg:
        vfr = vfr or abs(avg - sane_real) / sane_real > Fraction(5, 100)
    measured = 1 / (median * time_base) if median > 0 else None
    candidate = sane_real or avg or measured
    if candidate is None:
        return None, vfr
    return _snap(candidate, tolerance=Fraction(5, 100) if vfr else Fraction(1, 1000)), vfr


def _snap(rate: Fraction, *, tolerance: Fraction) -> Fraction:
    nearest = min(_STANDARD_RATES, key=lambda r: abs(r - rate) / r)
    return nearest if abs(nearest - rate) / nearest <= tolerance else rate


def _bit_depth(s: dict[str, Any]) -> int:
    raw = _int_or_none(s.get("bits_per_raw_sample"))
    if raw:
        return raw
    match = re.search(r"(\d+)[lb]e$", str(s.get("pix_fmt", "")))  # yuv420p10le, p010le, gray12le
    if match is None:
        return 8
    return min(int(match.group(1)), 16)  # rgb48le/rgba64le name the whole pixel: 16 per channel


def _audio_info(s: dict[str, Any]) -> AudioInfo:
    tags = {str(k).lower(): str(v) for k, v in s.get("tags", {}).items()}
    return AudioInfo(
        index=int(s["index"]),
        codec=str(s.get("codec_name", "unknown")),
        channels=int(s.get("channels", 0)),
        channel_layout=s.get("channel_layout"),
        sample_rate=int(s.get("sample_rate", 0)),
        language=tags.get("language") or "und",
        title=tags.get("title"),
    )


def _known(value: object) -> str | None:
    return None if value in (None, "", "unknown", "unspecified") else str(value)


def _fraction(value: object) -> Fraction | None:
    """ "30000/1001" or "4:3" as a Fraction; None for absent, zero or undefined ("0/0")."""
    num, _, den = str(value).replace(":", "/").partition("/")
    try:
        return Fraction(int(num), int(den or 1)) if int(num) and int(den or 1) else None
    except ValueError:
        return None  # absent or "N/A"


def _seconds(value: object) -> float:
    try:
        return float(str(value))
    except ValueError:
        return math.nan  # absent or "N/A": validation reports unreadable timestamps


def _int_or_none(value: object) -> int | None:
    return int(str(value)) if isinstance(value, (int, str)) and str(value).isdigit() else None


def _encode(obj: object) -> dict[str, object]:
    out: dict[str, object] = {}
    for f in fields(obj):  # type: ignore[arg-type]  # always one of the dataclasses above
        value = getattr(obj, f.name)
        if isinstance(value, Fraction):
            value = f"{value.numerator}/{value.denominator}"
        elif isinstance(value, float) and not math.isfinite(value):
            value = None
        out[f.name] = value
    return out


def _decode(cls: type, data: object, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__} must be a JSON object, not {type(data).__name__}")
    out: dict[str, Any] = {}
    for f in fields(cls):
        value = data[f.name]
        if f.name in _FRACTION_FIELDS:
            value = Fraction(str(value))
        elif f.name == "duration":  # the one float field, stored as null when NaN
            value = math.nan if value is None else float(str(value))
        if f.name not in skip:
            out[f.name] = value
    return out
