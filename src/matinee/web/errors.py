"""The one place matinee's errors are mapped to HTTP responses."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from matinee.errors import MatineeError
from matinee.jobs.errors import JobNotFound
from matinee.media.errors import InvalidLadder, InvalidMaster
from matinee.storage.errors import InvalidKey, ObjectNotFound, StorageUnavailable

STATUS: tuple[tuple[type[MatineeError], int], ...] = (
    (ObjectNotFound, 404),
    (JobNotFound, 404),
    (InvalidKey, 400),
    (InvalidMaster, 422),
    (InvalidLadder, 422),
    (StorageUnavailable, 503),
)


def status_for(exc: MatineeError) -> int:
    return next((code for kind, code in STATUS if isinstance(exc, kind)), 500)


def install(app: FastAPI) -> None:
    @app.exception_handler(MatineeError)
    async def _matinee_error(_: Request, exc: MatineeError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=status_for(exc))
