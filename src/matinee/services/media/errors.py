"""The media service's errors and how they become HTTP statuses (the runtime renders the JSON
body; tus routes render it themselves, to add ``Tus-Resumable``).

::

    UploadError
    ├── UploadNotFound          404  no upload with this id (never made, or terminated)
    ├── UploadExpired           410  an unfinished upload left alone past its expiry
    ├── UploadRequestInvalid    400  a tus header is missing or malformed (names the header)
    ├── TusVersionUnsupported   412  the client speaks another version of tus
    ├── UploadOffsetMismatch    409  Upload-Offset is not where the upload stands
    ├── UploadIncomplete        409  the parts do not add up to the whole file (yet)
    ├── UploadTooLarge          413  more than Tus-Max-Size, or past the declared length
    ├── UploadContentType       415  a PATCH body that is not application/offset+octet-stream
    └── UploadBusy              423  another request is writing this upload right now
    JobsCursorInvalid           400  a jobs cursor this service did not give out
"""

from __future__ import annotations

from matinee.delivery.errors import AccessDenied, NoRenditionAllowed, UnsafePath
from matinee.errors import MatineeError
from matinee.jobs.errors import JobNotFound
from matinee.media.errors import InvalidLadder, InvalidMaster
from matinee.storage.errors import InvalidKey, ObjectNotFound, StorageUnavailable


class UploadError(MatineeError):
    """Base of the upload (tus) errors."""


class UploadNotFound(UploadError):
    """No upload has this id."""


class UploadExpired(UploadError):
    """An unfinished upload that received nothing for longer than the upload TTL."""


class UploadRequestInvalid(UploadError):
    """A tus header is missing or cannot be read."""

    code = "invalid_upload_request"


class TusVersionUnsupported(UploadError):
    """The request's Tus-Resumable names a version this server does not speak."""


class UploadOffsetMismatch(UploadError):
    """A PATCH's Upload-Offset differs from the bytes the server holds."""

    code = "offset_mismatch"


class UploadIncomplete(UploadError):
    """The stored parts leave a gap or fall short of Upload-Length."""


class UploadTooLarge(UploadError):
    """The upload would pass Tus-Max-Size or its own Upload-Length."""


class UploadContentType(UploadError):
    """A PATCH body without the tus content type."""

    code = "unsupported_content_type"


class UploadBusy(UploadError):
    """Another request on this instance is appending to the upload."""

    code = "upload_locked"


class JobsCursorInvalid(MatineeError):
    """A cursor the jobs list did not give out (or from another list)."""

    code = "invalid_cursor"


STATUS: tuple[tuple[type[Exception], int], ...] = (
    (UploadNotFound, 404),
    (UploadExpired, 410),
    (UploadRequestInvalid, 400),
    (TusVersionUnsupported, 412),
    (UploadOffsetMismatch, 409),
    (UploadIncomplete, 409),
    (UploadTooLarge, 413),
    (UploadContentType, 415),
    (UploadBusy, 423),
    (JobsCursorInvalid, 400),
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


def status_of(exc: Exception) -> int:
    """The HTTP status of one of this service's errors (500 for anything unknown)."""
    return next((code for kind, code in STATUS if isinstance(exc, kind)), 500)
