"""The web service's errors and how they become HTTP statuses (the runtime renders the JSON
body).

::

    UnsafeAppPath  400  a path of the app that is not a plain relative path (``..``, ``%``...)
    BadQuery       400  a metrics query with a wrong parameter (names it)
    QueryError     400  the same, found by the telemetry store

A missing build is not an error: the routes answer it with a plain 503 (``static.py``). Other
services failing is not one either: the admin answers name what they could not gather.
"""

from __future__ import annotations

from matinee.services.web.series import BadQuery
from matinee.services.web.static import UnsafeAppPath
from matinee.telemetry.series import QueryError

STATUS: tuple[tuple[type[Exception], int], ...] = (
    (UnsafeAppPath, 400),
    (BadQuery, 400),
    (QueryError, 400),
)
