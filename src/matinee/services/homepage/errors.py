"""The homepage's errors and how they become HTTP statuses (the runtime renders the JSON body).

::

    HomepageError
    └── ProfileNotFound   404  the caller's profile no longer exists (choose another)

Other services failing is never an error here: the homepage falls back (``fallbacks.py``).
"""

from __future__ import annotations

from matinee.errors import MatineeError


class HomepageError(MatineeError):
    """Base of the homepage's errors."""


class ProfileNotFound(HomepageError):
    """The profile the session names is gone."""


STATUS: tuple[tuple[type[Exception], int], ...] = ((ProfileNotFound, 404),)
