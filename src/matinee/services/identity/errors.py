"""The identity service's errors and the HTTP status of each (the runtime renders the JSON).

No message here says whether an account exists: a failed sign-in reads the same for an unknown
email and a wrong password, and a refused sign-up does not say why.
"""

from __future__ import annotations

import math

from matinee.db.aio import DatabaseUnavailable
from matinee.errors import MatineeError


class IdentityError(MatineeError):
    """Base of the identity service's errors."""


class InvalidCredentials(IdentityError):
    """Sign-in failed: unknown email or wrong password (deliberately not told apart)."""


class SignupRefused(IdentityError):
    """An account cannot be created with these details (the reason is not told)."""


class WrongPassword(IdentityError):
    """A signed-in member gave the wrong current password (changing the password)."""


class TooManyAttempts(IdentityError):
    """Too many sign-in attempts in the window; ``retry_after`` says when to try again."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def retry_after_header(self) -> str:
        """``Retry-After`` in whole seconds, at least 1."""
        return str(max(1, math.ceil(self.retry_after)))


class InvalidEmail(IdentityError):
    """The email address is not shaped like one."""

    code = "invalid_request"


class WeakPassword(IdentityError):
    """The password breaks the policy (length)."""

    code = "invalid_request"


class InvalidCountry(IdentityError):
    """The country is not an ISO 3166 alpha-2 code."""

    code = "invalid_request"


class InvalidProfile(IdentityError):
    """A profile's fields do not fit together (a kids profile above maturity 12, ...)."""

    code = "invalid_request"


class InvalidCursor(IdentityError):
    """A pagination cursor that this service did not hand out."""

    code = "invalid_request"


class NotSignedIn(IdentityError):
    """The request carries no live session (signed out, expired or never signed in)."""

    code = "unauthorized"


class UnknownSession(IdentityError):
    """The token belongs to no live session (unknown, expired or revoked)."""


class AccountNotFound(IdentityError):
    pass


class ProfileNotFound(IdentityError):
    pass


class DeviceNotFound(IdentityError):
    pass


class ProfileLimitReached(IdentityError):
    """The account already has its maximum number of profiles."""


class ProfileNameTaken(IdentityError):
    """Another profile of the same account has this name."""


STATUS: tuple[tuple[type[Exception], int], ...] = (
    (InvalidCredentials, 401),
    (NotSignedIn, 401),
    (WrongPassword, 403),
    (SignupRefused, 400),
    (TooManyAttempts, 429),
    (InvalidEmail, 422),
    (WeakPassword, 422),
    (InvalidCountry, 422),
    (InvalidProfile, 422),
    (InvalidCursor, 422),
    (UnknownSession, 404),
    (AccountNotFound, 404),
    (ProfileNotFound, 404),
    (DeviceNotFound, 404),
    (ProfileLimitReached, 409),
    (ProfileNameTaken, 409),
    (DatabaseUnavailable, 503),
)
