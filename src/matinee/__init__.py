"""matinee: an open-source streaming platform."""

__version__ = "0.1.0"
