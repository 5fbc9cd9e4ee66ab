"""The steering service's errors and how they become HTTP statuses.

SteeringError
├── InvalidSteeringConfig   the TOML file is unreadable or names a bad value
└── FillUnavailable         a fill run could not get what it needs (history, catalog, media)
"""

from __future__ import annotations

from matinee.errors import MatineeError


class SteeringError(MatineeError):
    """Base of the steering service's errors."""


class InvalidSteeringConfig(SteeringError):
    """The steering configuration cannot be used."""


class FillUnavailable(SteeringError):
    """A fill run could not read popularity, releases or a title's files."""

    code = "fill_unavailable"


STATUS: tuple[tuple[type[Exception], int], ...] = (
    (FillUnavailable, 503),
    (InvalidSteeringConfig, 500),
)
