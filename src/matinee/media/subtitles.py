"""Sidecar subtitles (SRT or WebVTT) converted to clean WebVTT."""

from __future__ import annotations

from pathlib import Path

from matinee.media import tools
from matinee.media.errors import InvalidMaster, ToolError

SUPPORTED = {".srt", ".vtt"}


def to_webvtt(source: Path, out: Path) -> Path:
    """Convert SRT or WebVTT to WebVTT; a file ffmpeg cannot read as subtitles is rejected."""
    if source.suffix.lower() not in SUPPORTED:
        raise InvalidMaster(
            f"subtitles {source.name!r}: only SRT and WebVTT sidecar files are supported"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    args: list[str | Path] = [tools.binaries().ffmpeg, "-hide_banner", "-nostdin", "-y"]
    args += ["-v", "error", "-i", source, "-map", "0:s:0", "-c:s", "webvtt", "-f", "webvtt", out]
    try:
        tools.run(args, what=f"convert subtitles {source.name}")
    except ToolError as exc:
        raise InvalidMaster(f"subtitles {source.name!r} could not be read: {exc.detail}") from exc
    text = out.read_text(encoding="utf-8", errors="replace")
    # A file ffmpeg reads without finding one cue gives a bare "WEBVTT" header, which the
    # packager later rejects with an unreadable END_OF_STREAM error: reject it here instead.
    if not text.startswith("WEBVTT") or "-->" not in text:
        raise InvalidMaster(f"subtitles {source.name!r} produced no WebVTT cues")
    return out
