"""Filter chains that turn any master into clean progressive SDR frames of the right shape.

The same chain feeds the encoder and the VMAF reference, so quality is scored against what the
viewer was meant to see (deinterlaced, upright, tone-mapped).
"""

from __future__ import annotations

from fractions import Fraction

from matinee.media.probe import VideoInfo

# Rotation (clockwise degrees needed for display) -> filters that apply it.
_ROTATE = {90: ["transpose=clock"], 180: ["hflip", "vflip"], 270: ["transpose=cclock"]}

# PQ/HLG -> linear light -> BT.709 primaries -> Hable tone curve -> BT.709 8-bit limited range.
_TONEMAP = [
    "zscale=transfer=linear:npl=100",
    "format=gbrpf32le",
    "zscale=primaries=bt709",
    "tonemap=tonemap=hable:desat=0",
    "zscale=transfer=bt709:matrix=bt709:range=tv",
]


def normalize(video: VideoInfo) -> list[str]:
    """Deinterlace, rotate and tone-map as the master needs; nothing for a clean master."""
    chain: list[str] = []
    if video.interlaced:
        # bwdif in send_frame mode keeps the frame rate (one output frame per input frame).
        chain.append("bwdif=mode=send_frame:parity=auto:deint=all")
    chain += _ROTATE.get(video.rotation, [])
    if video.hdr:
        chain += _TONEMAP
    return chain


def fps(rate: Fraction) -> str:
    return f"fps={rate.numerator}/{rate.denominator}"


def scale(width: int, height: int) -> list[str]:
    """Resize to exact square-pixel dimensions in 8-bit 4:2:0, which H.264 High requires."""
    return [f"scale={width}:{height}:flags=lanczos", "setsar=1", "format=yuv420p"]
