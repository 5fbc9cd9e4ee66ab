"""Synthetic masters generated from ffmpeg's lavfi sources.

``make run`` uses these to create sample titles; the tests use them to build odd and broken inputs
(rotation, VFR, interlacing, 10-bit HDR, non-square pixels, several audio languages).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from matinee.media import tools

# Visual sources of increasing encoding complexity.
PATTERNS: dict[str, str] = {
    "bars": "smptehdbars=size={w}x{h}:rate={r}",
    "testsrc": "testsrc2=size={w}x{h}:rate={r}",
    "mandelbrot": "mandelbrot=size={w}x{h}:rate={r}",
    "life": "life=size={w}x{h}:rate={r}:mold=10:ratio=0.1:death_color=#203040:life_color=#e0a040",
    "noise": "testsrc2=size={w}x{h}:rate={r},noise=alls=40:allf=t+u",
}


@dataclass(frozen=True)
class AudioSpec:
    language: str = "eng"
    frequency: int = 440
    channels: int = 2


@dataclass(frozen=True)
class SampleSpec:
    pattern: str = "testsrc"
    width: int = 640
    height: int = 360
    fps: Fraction = Fraction(25)
    seconds: float = 6.0
    audio: tuple[AudioSpec, ...] = (AudioSpec(),)
    gop: int | None = None  # source keyframe interval in frames; default = 2 s
    codec: str = "libx264"
    pix_fmt: str = "yuv420p"
    sar: Fraction | None = None  # non-square pixels
    rotation: int = 0  # display rotation, degrees counter-clockwise (ffmpeg's convention)
    interlaced: bool = False
    hdr: bool = False  # 10-bit HEVC tagged PQ / BT.2020
    vfr: bool = False  # drop frames irregularly to make variable frame rate
    extra_filters: tuple[str, ...] = field(default=())


def make_sample(path: Path, spec: SampleSpec = SampleSpec()) -> Path:  # noqa: PLR0912 - one branch per master quirk
    """Write a synthetic master to ``path`` (container chosen by its suffix)."""
    # An interlaced master weaves two source frames into one, so the source runs at twice the rate.
    rate = spec.fps * 2 if spec.interlaced else spec.fps
    pattern = PATTERNS[spec.pattern].format(w=spec.width, h=spec.height, r=rate)
    ffmpeg = tools.binaries().ffmpeg
    out = path.with_name(f".unrotated-{path.name}") if spec.rotation else path
    args: list[str | Path] = [ffmpeg, "-hide_banner", "-nostdin", "-y"]
    args += ["-f", "lavfi", "-i", pattern]
    for a in spec.audio:
        layout = "stereo" if a.channels == 2 else ("mono" if a.channels == 1 else "5.1")
        args += [
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={a.frequency}:sample_rate=48000,aformat=channel_layouts={layout}",
        ]
    vf = list(spec.extra_filters)
    if spec.sar is not None:
        vf.append(f"setsar={spec.sar.numerator}/{spec.sar.denominator}")
    if spec.vfr:
        # Drop every frame whose index mod 7 is 3 or 5: irregular gaps, so the rate varies.
        vf.append("select='not(eq(mod(n\\,7)\\,3)+eq(mod(n\\,7)\\,5))'")
    if spec.interlaced:
        vf.append("tinterlace=mode=interleave_top,fieldorder=tff")
    args += ["-map", "0:v:0"]
    for i in range(len(spec.audio)):
        args += ["-map", f"{i + 1}:a:0"]
    if vf:
        args += ["-vf", ",".join(vf)]
    if spec.vfr:
        args += ["-fps_mode", "vfr"]
    args += ["-t", f"{spec.seconds:g}"]
    gop = spec.gop or max(1, round(spec.fps * 2))
    if spec.hdr:
        args += [
            "-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-preset", "ultrafast",
            "-x265-params",
            f"keyint={gop}:min-keyint={gop}:log-level=error:colorprim=bt2020"
            ":transfer=smpte2084:colormatrix=bt2020nc",
            "-color_primaries", "bt2020", "-color_trc", "smpte2084", "-colorspace", "bt2020nc",
            "-tag:v", "hvc1",
        ]  # fmt: skip
    else:
        args += ["-c:v", spec.codec, "-pix_fmt", spec.pix_fmt, "-g", str(gop)]
        if spec.codec == "libx264":
            args += ["-preset", "veryfast", "-crf", "18"]
            if spec.interlaced:
                args += ["-flags", "+ildct+ilme", "-x264-params", "tff=1"]
    for i, a in enumerate(spec.audio):
        if a.language:  # "" leaves the track untagged, as many real masters are
            args += [f"-metadata:s:a:{i}", f"language={a.language}"]
    if spec.audio:
        args += ["-c:a", "aac", "-b:a", "160k"]
    args.append(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tools.run(args, what=f"generate sample {path.name}")
    if spec.rotation:
        # -display_rotation is an input option: remux so the display matrix lands on the output
        # stream as phones write it, leaving the pixels untouched.
        remux: list[str | Path] = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-noautorotate"]
        remux += ["-display_rotation:v:0", str(spec.rotation), "-i", out, "-map", "0", "-c", "copy"]
        tools.run([*remux, path], what=f"rotate sample {path.name}")
        out.unlink()
    return path
