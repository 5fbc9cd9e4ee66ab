"""Packaging: CMAF fMP4 segments with an HLS master playlist and a static DASH MPD over the same
segment files, through Shaka Packager. Bitrates are measured from the segments written."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from matinee.media import tools

HLS_MASTER = "master.m3u8"
DASH_MPD = "manifest.mpd"
LANGUAGE_NAMES = {
    "eng": "English", "fra": "Français", "fre": "Français", "deu": "Deutsch", "ger": "Deutsch",
    "spa": "Español", "ita": "Italiano", "por": "Português", "jpn": "日本語", "kor": "한국어",
    "zho": "中文", "chi": "中文", "nld": "Nederlands", "dut": "Nederlands", "und": "Unknown",
}  # fmt: skip


@dataclass(frozen=True)
class PackageInput:
    kind: str  # "video" | "audio" | "text"
    name: str  # directory name under kind/, e.g. "720p-3000k", "eng", "eng-1"
    path: Path
    language: str | None = None


@dataclass(frozen=True)
class PackagedTrack:
    kind: str
    name: str
    playlist: str  # relative to the package root
    peak_bps: int
    average_bps: int
    codecs: str | None


def descriptors(item: PackageInput) -> list[str]:
    """Shaka Packager stream descriptors for one input.

    Subtitles are written twice from the same WebVTT: as WebVTT text segments for HLS (the only
    subtitle form HLS players read) and as WebVTT in fragmented MP4 (``wvtt``) for DASH, the
    form DASH players read segmented; dash.js cannot load the plain-text segments at all.
    """
    folder = f"{item.kind}/{item.name}"
    fields = [f"in={item.path}", f"stream={item.kind}"]
    if item.kind == "text":
        common = [*fields, *_labels(item)]
        hls = [
            *common,
            f"segment_template={folder}/$Number%05d$.vtt",
            f"playlist_name={folder}/index.m3u8",
            "hls_only=1",
        ]
        dash = [
            *common,
            "format=mp4",
            f"init_segment={folder}/init.mp4",
            f"segment_template={folder}/$Number%05d$.m4s",
            "dash_only=1",
        ]
        return [",".join(hls), ",".join(dash)]
    fields += [
        f"init_segment={folder}/init.mp4",
        f"segment_template={folder}/$Number%05d$.m4s",
        f"playlist_name={folder}/index.m3u8",
    ]
    if item.kind == "audio":
        fields += _labels(item)
    return [",".join(fields)]


def _labels(item: PackageInput) -> list[str]:
    """Language, HLS group and display name of an audio or subtitle track."""
    lang = item.language or "und"
    group = "audio" if item.kind == "audio" else "subs"
    label = LANGUAGE_NAMES.get(lang, lang)
    fields = [f"hls_group_id={group}", f"hls_name={label}"]
    # The packager refuses "und" (undetermined), which untagged tracks carry: leave it unset.
    return fields if lang == "und" else [f"language={lang}", *fields]


def package(
    inputs: Sequence[PackageInput], out_dir: Path, segment_seconds: float
) -> list[PackagedTrack]:
    """Write the package into ``out_dir`` (manifests at its root, one folder per track)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    args: list[str | Path] = [tools.binaries().packager]
    args += [d for i in inputs for d in descriptors(i)]
    args += [
        "--segment_duration", f"{segment_seconds:g}",
        "--hls_master_playlist_output", HLS_MASTER,
        "--hls_playlist_type", "VOD",
        "--mpd_output", DASH_MPD,
        # With segment templates the packager writes a dynamic (live) MPD unless told otherwise.
        "--generate_static_live_mpd",
    ]  # fmt: skip
    default_audio = next(
        (i.language for i in inputs if i.kind == "audio" and i.language not in (None, "und")), None
    )
    if default_audio:
        args += ["--default_language", default_audio]
    tools.run(args, what="package HLS and DASH", cwd=out_dir)
    codecs = _master_codecs(out_dir / HLS_MASTER)
    tracks = []
    for item in inputs:
        playlist = f"{item.kind}/{item.name}/index.m3u8"
        peak, avg = measure_playlist(out_dir / playlist)
        tracks.append(
            PackagedTrack(item.kind, item.name, playlist, peak, avg, codecs.get(playlist))
        )
    return tracks


_EXTINF = re.compile(r"#EXTINF:([0-9.]+)")
_MAP = re.compile(r'#EXT-X-MAP:URI="([^"]+)"')


def measure_playlist(playlist: Path) -> tuple[int, int]:
    """Peak and average bitrate (bits/s) of a media playlist, from its real segment sizes.

    Peak is the largest segment's bitrate; average is all media bytes over all media time.
    """
    duration = 0.0
    total = 0
    peak = 0.0
    pending: float | None = None
    for line in playlist.read_text().splitlines():
        if m := _EXTINF.match(line):
            pending = float(m.group(1))
        elif line and not line.startswith("#") and pending is not None:
            size = (playlist.parent / line).stat().st_size
            total += size
            duration += pending
            if pending > 0:
                peak = max(peak, size * 8 / pending)
            pending = None
    if duration <= 0:
        return 0, 0
    return round(peak), round(total * 8 / duration)


def _master_codecs(master: Path) -> dict[str, str]:
    """Playlist -> its video CODECS string (the first codec listed in each variant)."""
    found: dict[str, str] = {}
    lines = master.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF") and i + 1 < len(lines):
            m = re.search(r'CODECS="([^"]+)"', line)
            if m:
                found[lines[i + 1].strip()] = m.group(1).split(",")[0]
        elif line.startswith("#EXT-X-MEDIA"):
            uri = re.search(r'URI="([^"]+)"', line)
            if uri and "TYPE=AUDIO" in line:
                found[uri.group(1)] = "mp4a.40.2"
            elif uri:
                found[uri.group(1)] = "wvtt"
    return found
