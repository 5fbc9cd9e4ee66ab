"""The root of matinee's error tree.

Each package defines its own subtree (``storage.errors``, ``media.errors``, ``jobs.errors``).
Foreign errors are converted where they enter (``raise X(...) from exc``); HTTP mapping lives
in one place (``matinee.web.errors``).
"""


class MatineeError(Exception):
    """Base of every error matinee raises on purpose. ``str(err)`` is plain words for a user."""
