"""Packaged media assets: the ladder a job produced, its tracks, quality and thumbnails."""
