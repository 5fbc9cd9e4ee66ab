"""The adaptive-bitrate ladder: a typed, validated config, and its fit to one master.

The default is H.264 High + AAC-LC stereo, modelled on Apple's HLS authoring ladder. A rung's
``width``x``height`` is a bounding box: each output keeps the master's display aspect ratio inside
it, with square pixels and even dimensions. A ladder never goes above the master's resolution or
frame rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from matinee.media.errors import InvalidLadder
from matinee.media.probe import VideoInfo

X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast",
    "medium", "slow", "slower", "veryslow", "placebo",
)  # fmt: skip

Kbps = Annotated[int, Field(ge=50, le=100_000)]


class Rung(BaseModel):
    """One rendition: a resolution box and a target bitrate (constrained VBR)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int = Field(ge=64, le=7680, multiple_of=2)
    height: int = Field(ge=64, le=4320, multiple_of=2)
    bitrate_kbps: Kbps
    max_fps: float = Field(default=60.0, gt=0, le=120)
    # Constrained VBR: peak = maxrate_factor x target over a VBV of bufsize_factor x target.
    maxrate_factor: float = Field(default=1.5, ge=1.0, le=4.0)
    bufsize_factor: float = Field(default=2.0, ge=0.5, le=8.0)

    @property
    def name(self) -> str:
        return f"{self.height}p-{self.bitrate_kbps}k"


class Ladder(BaseModel):
    """A full ladder configuration: video rungs, audio, encoder settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rungs: tuple[Rung, ...] = Field(min_length=1)
    video_codec: Literal["h264"] = "h264"
    profile: Literal["high", "main", "baseline"] = "high"
    preset: str = "medium"
    audio_bitrate_kbps: Kbps = 128
    audio_channels: Literal[1, 2] = 2
    segment_seconds: float = Field(default=4.0, ge=1.0, le=20.0)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.preset not in X264_PRESETS:
            raise ValueError(f"preset must be one of {', '.join(X264_PRESETS)}")
        names = [r.name for r in self.rungs]
        if len(set(names)) != len(names):
            raise ValueError("rungs must be unique (two rungs share a resolution and bitrate)")
        return self

    @classmethod
    def parse(cls, data: object) -> Ladder:
        """Validate raw config; errors name the offending field, e.g. ``rungs.2.bitrate_kbps``."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'ladder'}: {err['msg']}"
                for err in exc.errors()
            )
            raise InvalidLadder(f"invalid ladder: {problems}") from exc


DEFAULT_LADDER = Ladder(
    rungs=(
        Rung(width=416, height=234, bitrate_kbps=145, max_fps=30),
        Rung(width=640, height=360, bitrate_kbps=365, max_fps=30),
        Rung(width=768, height=432, bitrate_kbps=730, max_fps=30),
        Rung(width=768, height=432, bitrate_kbps=1100, max_fps=30),
        Rung(width=960, height=540, bitrate_kbps=2000),
        Rung(width=1280, height=720, bitrate_kbps=3000),
        Rung(width=1280, height=720, bitrate_kbps=4500),
        Rung(width=1920, height=1080, bitrate_kbps=6000),
        Rung(width=1920, height=1080, bitrate_kbps=7800),
    )
)


@dataclass(frozen=True)
class PlannedRung:
    """A rung fitted to a specific master: exact output size and frame rate."""

    rung: Rung
    width: int
    height: int
    fps: Fraction

    @property
    def name(self) -> str:
        return self.rung.name

    @property
    def bitrate_kbps(self) -> int:
        return self.rung.bitrate_kbps

    def to_dict(self) -> dict[str, Any]:
        return {
            "rung": self.rung.model_dump(),
            "width": self.width,
            "height": self.height,
            "fps": f"{self.fps.numerator}/{self.fps.denominator}",
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PlannedRung:
        return cls(Rung.model_validate(d["rung"]), d["width"], d["height"], Fraction(d["fps"]))


def _even(x: float | Fraction) -> int:
    return max(2, 2 * round(x / 2))


def _floor_even(x: int) -> int:
    return max(2, x - x % 2)


def fit_box(box_w: int, box_h: int, aspect: Fraction) -> tuple[int, int]:
    """Largest even WxH with the given display aspect that fits inside the box."""
    if Fraction(box_w, box_h) > aspect:  # box is wider: height-bound
        return _even(box_h * aspect), box_h
    return box_w, _even(box_w / aspect)


# Rates within 0.1 % are one rate (as probe snaps them): a cap of 29.97 admits 30000/1001.
_SAME_RATE = Fraction(1001, 1000)


def output_fps(source: Fraction, max_fps: float) -> Fraction:
    """Never above the source; above the rung's cap, divide by the smallest whole factor that
    fits (60 -> 30, 59.94 -> 29.97) so frames stay evenly spaced."""
    cap = Fraction(max_fps).limit_denominator(1001) * _SAME_RATE
    factor = 1
    while source / factor > cap:
        factor += 1
    return source / factor


def plan_ladder(ladder: Ladder, video: VideoInfo) -> tuple[PlannedRung, ...]:
    """Fit the ladder to a master: drop rungs above its resolution, keep its shape and rate.

    A master smaller than every rung still gets one rendition, at its own size.
    """
    aspect = Fraction(video.display_width, video.display_height)
    planned: list[PlannedRung] = []
    for rung in ladder.rungs:
        w, h = fit_box(rung.width, rung.height, aspect)
        if w > video.display_width or h > video.display_height:
            continue
        planned.append(PlannedRung(rung, w, h, output_fps(video.frame_rate, rung.max_fps)))
    if not planned:
        lowest = min(ladder.rungs, key=lambda r: r.width * r.height)
        w, h = _floor_even(video.display_width), _floor_even(video.display_height)
        planned.append(PlannedRung(lowest, w, h, output_fps(video.frame_rate, lowest.max_fps)))
    return tuple(planned)
