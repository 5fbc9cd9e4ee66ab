"""How the media service's errors become HTTP statuses (the runtime renders the JSON body)."""

from __future__ import annotations

from matinee.delivery.errors import AccessDenied, NoRenditionAllowed, UnsafePath
from matinee.jobs.errors import JobNotFound
from matinee.media.errors import InvalidLadder, InvalidMaster
from matinee.storage.errors import InvalidKey, ObjectNotFound, StorageUnavailable

STATUS: tuple[tuple[type[Exception], int], ...] = (
    (ObjectNotFound, 404),
    (JobNotFound, 404),
    (InvalidKey, 400),
    (InvalidMaster, 422),
    (InvalidLadder, 422),
    (StorageUnavailable, 503),
    (UnsafePath, 400),  # signed URLs: traversal, encoded or odd paths
    (AccessDenied, 403),  # altered, expired, wrong folder or address, rendition above the cap
    (NoRenditionAllowed, 403),
)
