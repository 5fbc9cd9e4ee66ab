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
    """Deinterlace, rotate and tone-map as the master needs; for an SDR master that does not
    state its colours, declare them BT.709 (see :func:`_declare_bt709`)."""
    chain: list[str] = []
    if video.interlaced:
        # bwdif in send_frame mode keeps the frame rate (one output frame per input frame).
        chain.append("bwdif=mode=send_frame:parity=auto:deint=all")
    if video.rotation in _ROTATE:
        # The pixels are now upright, so the display matrix must go too: ffmpeg copies it onto
        # an output (it did onto the first rung), and every reader would rotate it again.
        chain += [*_ROTATE[video.rotation], "sidedata=mode=delete:type=DISPLAYMATRIX"]
    if video.hdr:
        chain += _TONEMAP
    else:
        chain += _declare_bt709(video)
    return chain


def _declare_bt709(video: VideoInfo) -> list[str]:
    """Tag (never convert) the colour properties an SDR master leaves unstated as BT.709.

    The encoder tags its output BT.709. Given untagged frames, ffmpeg would "convert" them from
    its own guess (BT.601) through RGB, which shifts colours and, on a rung at the master's own
    size, leaves two-line steps in luma that look like interlacing; it would also drop the
    primaries and transfer tags from the output. Declaring keeps the master's pixels as stored.
    """
    stated = {
        "color_primaries": video.color_primaries,
        "color_trc": video.color_transfer,
        "colorspace": video.color_space,
    }
    missing = [f"{name}=bt709" for name, value in stated.items() if value is None]
    return [f"setparams={':'.join(missing)}"] if missing else []


def fps(rate: Fraction) -> str:
    return f"fps={rate.numerator}/{rate.denominator}"


def scale(width: int, height: int) -> list[str]:
    """Resize to exact square-pixel dimensions in 8-bit 4:2:0, which H.264 High requires."""
    return [f"scale={width}:{height}:flags=lanczos", "setsar=1", "format=yuv420p"]
