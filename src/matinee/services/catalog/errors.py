"""The catalog's errors and how they become HTTP statuses (the runtime renders the JSON body).

::

    CatalogError
    ├── TitleNotFound        404  no such title (or not visible to this caller)
    ├── InvalidTitle         422  the change makes no sense for this title (an episode of a movie)
    ├── DuplicateEpisode     409  the series already has this season and episode number
    ├── InvalidCursor        400  a pagination cursor this list did not give out
    ├── AssetNotFound        422  the media service knows no asset with this id
    └── MediaAnswerInvalid   502  the media service answered something the catalog cannot use
"""

from __future__ import annotations

from matinee.db.aio import DatabaseUnavailable
from matinee.errors import MatineeError


class CatalogError(MatineeError):
    """Base of the catalog's errors."""


class TitleNotFound(CatalogError):
    """No title has this id (public reads: none the caller may see)."""


class InvalidTitle(CatalogError):
    """The request does not fit the title it is about."""


class DuplicateEpisode(CatalogError):
    """The series already has an episode with this season and number."""


class InvalidCursor(CatalogError):
    """A cursor that was damaged or belongs to another list."""


class AssetNotFound(CatalogError):
    """The media service has no asset with this id."""


class MediaAnswerInvalid(CatalogError):
    """The media service's answer about an asset could not be used."""


STATUS: tuple[tuple[type[Exception], int], ...] = (
    (TitleNotFound, 404),
    (InvalidTitle, 422),
    (DuplicateEpisode, 409),
    (InvalidCursor, 400),
    (AssetNotFound, 422),
    (MediaAnswerInvalid, 502),
    (DatabaseUnavailable, 503),
)
