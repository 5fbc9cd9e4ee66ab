"""The root of matinee's error tree.

Each package defines its own subtree (``storage.errors``, ``media.errors``, ``jobs.errors``).
Foreign errors are converted where they enter (``raise X(...) from exc``). Each service maps
its errors to HTTP statuses in its spec (``services/<name>/errors.py``) and the runtime renders
them (``runtime/app.py``); failures of calls between services map in ``gateway/errors.py``.
"""


class MatineeError(Exception):
    """Base of every error matinee raises on purpose. ``str(err)`` is plain words for a user."""
