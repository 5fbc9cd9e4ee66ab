"""Errors of the media pipeline.

MediaError
├── ToolError            an external tool (ffmpeg, ffprobe, packager) failed or was stopped
│   └── ToolTimeout      ... or ran past its time limit
├── InvalidMaster        the uploaded master cannot be ingested (corrupt, empty, too small...)
├── InvalidLadder        a ladder config is invalid (names the offending field)
└── QualityError         VMAF could not be computed
"""

from __future__ import annotations

from matinee.errors import MatineeError


class MediaError(MatineeError):
    """Base of media pipeline errors."""


class ToolError(MediaError):
    """An external tool exited non-zero. ``detail`` holds the tail of its stderr."""

    def __init__(self, message: str, *, command: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.command = command
        self.detail = detail


class ToolTimeout(ToolError):
    """An external tool ran past its time limit and was stopped."""


class InvalidMaster(MediaError):
    """The master file cannot be ingested; the message says why in plain words."""


class InvalidLadder(MediaError):
    """A ladder configuration is invalid; the message names the field."""


class QualityError(MediaError):
    """VMAF could not be computed."""
