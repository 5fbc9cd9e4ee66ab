"""Sample titles for ``make run``: short clips of different complexity, with audio."""

from __future__ import annotations

from fractions import Fraction

from matinee.media.samples import AudioSpec, SampleSpec, make_sample
from matinee.platform import Platform

SAMPLES: dict[str, SampleSpec] = {
    "Colour Bars": SampleSpec(
        pattern="bars", width=1280, height=720, seconds=10, audio=(AudioSpec("eng", 440),)
    ),
    "Test Card": SampleSpec(
        pattern="testsrc",
        width=1280,
        height=720,
        seconds=10,
        fps=Fraction(30),
        audio=(AudioSpec("eng", 523), AudioSpec("fra", 659)),
    ),
    "Mandelbrot": SampleSpec(
        pattern="mandelbrot", width=960, height=540, seconds=10, audio=(AudioSpec("eng", 330),)
    ),
    "Game of Life": SampleSpec(
        pattern="life", width=854, height=480, seconds=10, audio=(AudioSpec("eng", 392),)
    ),
}


def ensure_samples(platform: Platform, *, force: bool = False) -> list[str]:
    """Generate and submit the samples not yet published; returns the ids of jobs to run."""
    published = {a.title for a in platform.assets.all()}
    pending = {j.title for j in platform.jobs.recent(100) if j.state.value in ("queued", "running")}
    folder = platform.settings.data_dir / "samples"
    ids = list(platform.jobs.unfinished())
    for title, spec in SAMPLES.items():
        if not force and (title in published or title in pending):
            continue
        path = folder / f"{title.lower().replace(' ', '-')}.mp4"
        if not path.exists():
            make_sample(path, spec)
        ids.append(platform.submit(path, title).id)
    return ids
