"""Odd masters ingested through the real pipeline once per session, and readers for the package.

Every title is made by matinee's own ingest (worker processes, ffmpeg, Shaka Packager, SQLite) on
one shared embedded platform tuned for speed. The tests read the result from the outside only:
ffprobe on each CMAF track (its init segment and media segments joined into one file), ffmpeg's
``ssim``, ``idet`` and ``signalstats`` filters for what the picture looks like, and the manifests
as text. The masters are tiny (640x360 or so, 2 to 6 s) so the whole directory stays fast.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from matinee.jobs.models import JobState
from matinee.media import tools
from matinee.media.samples import AudioSpec, SampleSpec, make_sample
from matinee.platform import Platform, SubtitleFile
from matinee.settings import Settings
from matinee.testing.pipeline import ingest

FPS = 25
SEGMENT_SECONDS = 2.0
# The same tuning as the shared make_platform fixture: fast x264, short chunks and segments.
PLATFORM_SETTINGS: dict[str, Any] = {
    "x264_preset": "ultrafast",
    "workers": 2,
    "chunk_seconds": 4.0,
    "segment_seconds": SEGMENT_SECONDS,
    "vmaf_subsample": 4,
}
BASE = SampleSpec(width=640, height=360, fps=Fraction(FPS), seconds=2.0)
# Long enough for a player to pass currentTime > 3 s.
PLAYABLE_SECONDS = 6.0

MPD_NS = {"mpd": "urn:mpeg:dash:schema:mpd:2011"}

SRT_TEXT = """1
00:00:00,500 --> 00:00:02,500
Hello from the <i>SRT</i> sidecar

2
00:00:03,000 --> 00:00:05,000
Second English line
"""
VTT_TEXT = """WEBVTT

00:00:00.500 --> 00:00:02.500
Bonjour depuis le fichier WebVTT

00:00:03.000 --> 00:00:05.000
Deuxième ligne
"""


# --- reading tools ---------------------------------------------------------------------------


def ffprobe(path: Path, *args: str) -> dict[str, Any]:
    argv = [tools.binaries().ffprobe, "-v", "error", "-print_format", "json", *args, str(path)]
    report: dict[str, Any] = json.loads(tools.run(argv, what=f"test probe of {path.name}").stdout)
    return report


def video_stream(path: Path) -> dict[str, Any]:
    streams: list[dict[str, Any]] = ffprobe(path, "-show_streams")["streams"]
    return next(s for s in streams if s["codec_type"] == "video")


def video_packets(path: Path) -> list[tuple[int, int]]:
    """(pts, duration) of every video packet in time-base ticks, in presentation order."""
    report = ffprobe(path, "-select_streams", "v:0", "-show_entries", "packet=pts,duration")
    return sorted((int(p["pts"]), int(p["duration"])) for p in report["packets"])


def ffmpeg_log(*args: str | Path) -> str:
    """Run ffmpeg (output discarded) and return its log, where analysis filters report."""
    argv: list[str | Path] = [tools.binaries().ffmpeg, "-hide_banner", "-nostdin", "-nostats"]
    return tools.run([*argv, *args, "-f", "null", "-"], what="test analysis").stderr


def displayed_aspect(master: Path) -> float:
    """The master's picture shape as a player shows it: storage size x SAR, then rotation."""
    s = video_stream(master)
    sar = Fraction(str(s.get("sample_aspect_ratio", "1:1")).replace(":", "/") or "1")
    aspect = float(Fraction(int(s["width"]), int(s["height"])) * (sar or 1))
    rotation = next((int(d["rotation"]) for d in s.get("side_data_list", []) if "rotation" in d), 0)
    return 1 / aspect if rotation % 180 else aspect


def ssim_to_master(rendition: Path, master: Path) -> float:
    """SSIM of a rendition against the master as ffmpeg displays it (autorotated; scaled to the
    rendition's size, which also undoes non-square pixels). A squashed, cropped or wrongly
    rotated picture scores far lower than a faithful one."""
    s = video_stream(rendition)
    graph = f"[1:v:0]scale={s['width']}:{s['height']},setsar=1[ref];[0:v:0][ref]ssim"
    log = ffmpeg_log("-i", rendition, "-i", master, "-lavfi", graph)
    match = re.search(r"SSIM .* All:([0-9.]+)", log)
    assert match, log
    return float(match.group(1))


def ssim_of_thumbnail(sheet: Path, xywh: tuple[int, int, int, int], master: Path) -> float:
    """SSIM of one thumbnail of a trickplay sprite sheet against the master's first frame as
    ffmpeg displays it, scaled to the thumbnail's size."""
    x, y, w, h = xywh
    graph = (
        f"[0:v:0]crop={w}:{h}:{x}:{y}[thumb];"
        f"[1:v:0]trim=end_frame=1,scale={w}:{h},setsar=1[ref];[thumb][ref]ssim"
    )
    log = ffmpeg_log("-i", sheet, "-i", master, "-lavfi", graph)
    match = re.search(r"SSIM .* All:([0-9.]+)", log)
    assert match, log
    return float(match.group(1))


@dataclass(frozen=True)
class Idet:
    tff: int
    bff: int
    progressive: int
    undetermined: int

    @property
    def interlaced_share(self) -> float:
        total = self.tff + self.bff + self.progressive + self.undetermined
        return (self.tff + self.bff) / total


def idet(path: Path) -> Idet:
    """ffmpeg's interlace detector over every frame (its multi-frame verdicts)."""
    log = ffmpeg_log("-i", path, "-map", "0:v:0", "-vf", "idet")
    found = re.findall(
        r"Multi frame detection: TFF:\s*(\d+) BFF:\s*(\d+) Progressive:\s*(\d+) "
        r"Undetermined:\s*(\d+)",
        log,
    )
    assert found, log
    # The filter reports once per graph it ran in; the one that saw frames has the counts.
    counts = max((tuple(int(n) for n in f) for f in found), key=sum)
    return Idet(*counts)


@dataclass(frozen=True)
class Luma:
    mean: float  # average of per-frame YAVG
    low: float  # average of per-frame YLOW (10th percentile)
    high: float  # average of per-frame YHIGH (90th percentile)


def luma(path: Path) -> Luma:
    """Per-frame luma statistics from ``signalstats``, averaged over the clip (8-bit scale for
    an 8-bit file)."""
    log = ffmpeg_log("-i", path, "-map", "0:v:0", "-vf", "signalstats,metadata=print")

    def mean(key: str) -> float:
        values = [float(v) for v in re.findall(rf"lavfi\.signalstats\.{key}=([0-9.]+)", log)]
        assert values, log
        return sum(values) / len(values)

    return Luma(mean("YAVG"), mean("YLOW"), mean("YHIGH"))


# --- packaged titles ---------------------------------------------------------------------------

_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


def hls_attributes(line: str) -> dict[str, str]:
    """The attribute list of an HLS tag line, quotes removed."""
    return {k: v.strip('"') for k, v in _ATTRIBUTE.findall(line.split(":", 1)[1])}


@dataclass(frozen=True)
class Variant:
    uri: str
    attributes: dict[str, str]

    @property
    def resolution(self) -> tuple[int, int]:
        w, h = self.attributes["RESOLUTION"].split("x")
        return int(w), int(h)


@dataclass(frozen=True)
class Title:
    """One ingest job and, when it succeeded, its package in the local object store."""

    platform: Platform
    job_id: str
    state: JobState
    error: str | None
    master: Path
    scratch: Path

    @property
    def root(self) -> Path:
        path = self.platform.objects.local_path(f"assets/{self.job_id}/master.m3u8")
        assert path is not None, "the embedded store keeps objects as local files"
        return path.parent

    def text(self, relative: str) -> str:
        return (self.root / relative).read_text(encoding="utf-8")

    def variants(self) -> list[Variant]:
        lines = self.text("master.m3u8").splitlines()
        return [
            Variant(lines[i + 1].strip(), hls_attributes(line))
            for i, line in enumerate(lines)
            if line.startswith("#EXT-X-STREAM-INF:")
        ]

    def media(self, kind: str) -> list[dict[str, str]]:
        """The EXT-X-MEDIA renditions of one TYPE (AUDIO, SUBTITLES) in the master playlist."""
        lines = self.text("master.m3u8").splitlines()
        tags = [hls_attributes(ln) for ln in lines if ln.startswith("#EXT-X-MEDIA:")]
        return [t for t in tags if t.get("TYPE") == kind]

    def segments(self, playlist: str) -> tuple[Path | None, list[Path]]:
        """A media playlist's init segment (if any) and media segments, in order."""
        base = (self.root / playlist).parent
        init: Path | None = None
        media: list[Path] = []
        for line in self.text(playlist).splitlines():
            if m := re.match(r'#EXT-X-MAP:URI="([^"]+)"', line):
                init = base / m.group(1)
            elif line and not line.startswith("#"):
                media.append(base / line)
        return init, media

    def track(self, playlist: str) -> Path:
        """A CMAF track joined into one fragmented MP4 that ffprobe and ffmpeg can read."""
        out = self.scratch / f"{self.job_id}-{playlist.replace('/', '_')}.mp4"
        if not out.exists():
            init, media = self.segments(playlist)
            assert init is not None, f"{playlist} has no init segment"
            out.write_bytes(b"".join(p.read_bytes() for p in [init, *media]))
        return out

    def video_tracks(self) -> list[tuple[Variant, Path]]:
        variants = self.variants()
        assert variants, self.text("master.m3u8")
        return [(v, self.track(v.uri)) for v in variants]

    def top_track(self) -> Path:
        return max(self.video_tracks(), key=lambda vt: vt[0].resolution[1])[1]

    def mpd(self) -> ET.Element:
        return ET.fromstring(self.text("manifest.mpd"))  # noqa: S314 - our own packager's output

    def adaptation_sets(self, content_type: str) -> list[ET.Element]:
        return [
            a
            for a in self.mpd().iterfind(".//mpd:AdaptationSet", MPD_NS)
            if a.get("contentType") == content_type
            or str(a.get("mimeType", "")).startswith(f"{content_type}/")
        ]

    def dash_segments(self, representation: ET.Element) -> tuple[Path | None, list[Path]]:
        """A DASH Representation's init segment (if any) and media segments, in order, from
        its SegmentTemplate and SegmentTimeline."""
        template = representation.find("mpd:SegmentTemplate", MPD_NS)
        assert template is not None, ET.tostring(representation)
        init = template.get("initialization")
        count = sum(1 + int(s.get("r", "0")) for s in template.iterfind(".//mpd:S", MPD_NS))
        first = int(template.get("startNumber", "1"))
        media = str(template.get("media"))
        match = re.search(r"\$Number(%0(\d+)d)?\$", media)
        assert match, media
        width = int(match.group(2) or 0)
        numbers = range(first, first + count)
        paths = [self.root / media.replace(match.group(0), f"{n:0{width}d}") for n in numbers]
        return (self.root / init if init else None), paths


def ingest_title(
    platform: Platform, master: Path, scratch: Path, subtitles: tuple[SubtitleFile, ...] = ()
) -> Title:
    job_id, state = ingest(platform, master, master.stem, subtitles)
    scratch.mkdir(parents=True, exist_ok=True)
    error = platform.jobs.get(job_id).error
    return Title(platform, job_id, state, error, master, scratch)


def succeeded(title: Title) -> Title:
    assert title.state is JobState.SUCCEEDED, title.error
    return title


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def media_platform(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    """One embedded platform (SQLite, local object store) shared by every title below."""
    data = tmp_path_factory.mktemp("media-platform") / "data"
    return Platform(Settings(data_dir=data, **PLATFORM_SETTINGS))


@pytest.fixture(scope="session")
def masters(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media-masters")


@pytest.fixture(scope="session")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media-scratch")


def _title(platform: Platform, masters: Path, scratch: Path, name: str, spec: SampleSpec) -> Title:
    return succeeded(ingest_title(platform, make_sample(masters / name, spec), scratch))


@pytest.fixture(scope="session")
def odd_size_title(media_platform: Platform, masters: Path, scratch: Path) -> Title:
    """641x361. x264 cannot store odd sizes in 4:2:0, so this master is 4:4:4 (High 4:4:4)."""
    spec = replace(
        BASE,
        width=642,
        height=362,
        pix_fmt="yuv444p",
        extra_filters=("format=yuv444p", "crop=641:361:0:0"),
    )
    return _title(media_platform, masters, scratch, "odd-641x361.mp4", spec)


@pytest.fixture(scope="session")
def anamorphic_title(media_platform: Platform, masters: Path, scratch: Path) -> Title:
    """640x360 stored, SAR 4:3: displayed as 853x360 (about 2.37:1)."""
    spec = replace(BASE, sar=Fraction(4, 3))
    return _title(media_platform, masters, scratch, "anamorphic.mp4", spec)


@pytest.fixture(scope="session")
def rotated_title(media_platform: Platform, masters: Path, scratch: Path) -> Title:
    """640x360 stored with a 90-degree display matrix, as a phone writes it: shown 360x640."""
    spec = replace(BASE, rotation=90)
    return _title(media_platform, masters, scratch, "rotated.mp4", spec)


@pytest.fixture(scope="session")
def vfr_title(media_platform: Platform, masters: Path, scratch: Path) -> Title:
    spec = replace(BASE, vfr=True)
    return _title(media_platform, masters, scratch, "vfr.mp4", spec)


@pytest.fixture(scope="session")
def interlaced_title(media_platform: Platform, masters: Path, scratch: Path) -> Title:
    """Top-field-first interlaced H.264 (two 50 Hz fields woven per 25 fps frame), 6 s: long
    enough that idet's first few verdicts (its warm-up, before it has a history) weigh little."""
    spec = replace(BASE, interlaced=True, seconds=6.0)
    return _title(media_platform, masters, scratch, "interlaced.mp4", spec)


@pytest.fixture(scope="session")
def hdr_title(media_platform: Platform, masters: Path, scratch: Path) -> Title:
    """10-bit HEVC tagged PQ (SMPTE 2084) with BT.2020 primaries."""
    spec = replace(BASE, hdr=True)
    return _title(media_platform, masters, scratch, "hdr.mp4", spec)


@pytest.fixture(scope="session")
def video_only_title(media_platform: Platform, masters: Path, scratch: Path) -> Title:
    spec = replace(BASE, audio=(), seconds=PLAYABLE_SECONDS)
    return _title(media_platform, masters, scratch, "video-only.mp4", spec)


@pytest.fixture(scope="session")
def untagged_audio_title(media_platform: Platform, masters: Path, scratch: Path) -> Title:
    """Audio with no language tag (ffprobe says "und"), as many real masters have."""
    spec = replace(BASE, audio=(AudioSpec(""),), seconds=PLAYABLE_SECONDS)
    return _title(media_platform, masters, scratch, "untagged-audio.mp4", spec)


@pytest.fixture(scope="session")
def sidecars(masters: Path) -> tuple[SubtitleFile, ...]:
    """An English SRT and a French WebVTT sidecar."""
    srt = masters / "english.srt"
    srt.write_text(SRT_TEXT, encoding="utf-8")
    vtt = masters / "french.vtt"
    vtt.write_text(VTT_TEXT, encoding="utf-8")
    return (SubtitleFile("eng", srt), SubtitleFile("fra", vtt))


@pytest.fixture(scope="session")
def av_title(
    media_platform: Platform,
    masters: Path,
    scratch: Path,
    sidecars: tuple[SubtitleFile, ...],
) -> Title:
    """6 s with English and French audio tracks, and English (SRT) and French (WebVTT)
    sidecar subtitles: the title the players are tested with."""
    audio = (AudioSpec("eng", frequency=440), AudioSpec("fra", frequency=660))
    spec = replace(BASE, audio=audio, seconds=PLAYABLE_SECONDS)
    master = make_sample(masters / "audio-and-subtitles.mp4", spec)
    return succeeded(ingest_title(media_platform, master, scratch, sidecars))
