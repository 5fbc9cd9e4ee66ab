"""The identity service's request and response bodies (pydantic, with OpenAPI examples)."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue

from matinee.services.identity.errors import InvalidEmail
from matinee.services.identity.passwords import (
    EMAIL_MAX,
    PASSWORD_MAX,
    PASSWORD_MIN,
    normalize_email,
)
from matinee.services.identity.profiles import Avatar, Maturity


def _printable(value: str) -> str:
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        raise ValueError("must not contain control characters")
    return value


def _stripped(value: str) -> str:
    value = _printable(value).strip()
    if not value:
        raise ValueError("must not be blank")
    return value


def _email(value: str) -> str:
    try:
        normalize_email(value)
    except InvalidEmail:
        raise ValueError("this is not an email address") from None
    return value  # the service normalizes it


# The pattern documents (for clients and fuzzers) the shape normalize_email checks.
Email = Annotated[
    str,
    Field(
        min_length=3,
        max_length=EMAIL_MAX + 20,
        json_schema_extra={"pattern": r"^\s*[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+\s*$"},
    ),
    AfterValidator(_email),
]
NewPassword = Annotated[str, Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)]
Password = Annotated[str, Field(min_length=1, max_length=PASSWORD_MAX)]
Country = Annotated[str, Field(pattern=r"^[A-Za-z]{2}$", examples=["US"])]
DeviceId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,100}$")]
DeviceName = Annotated[str, Field(max_length=100), AfterValidator(_stripped)]
ProfileName = Annotated[str, Field(min_length=1, max_length=50), AfterValidator(_stripped)]
Language = Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")]
_ACCOUNT_ID = "5b0f3c7e-6a0e-4a51-9d55-2f1f0e0a9f11"
_PROFILE_ID = "0c6a3e52-2f0d-4f0e-8f43-6f3a3b8e0d21"
_SESSION_ID = "9a7c1d2e-3b4f-4a5b-8c6d-7e8f9a0b1c2d"


def _examples(*examples: JsonValue) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class SignUpIn(BaseModel):
    model_config = _examples(
        {"email": "ada@example.com", "password": "correct horse battery", "country": "GB"}
    )

    email: Email
    password: NewPassword
    country: Country
    device_id: DeviceId | None = Field(
        default=None, description="The client's own stable id for this device (an install id)"
    )
    device_name: DeviceName | None = Field(default=None, description="e.g. 'Living-room TV'")


class SignInIn(BaseModel):
    model_config = _examples(
        {"email": "ada@example.com", "password": "correct horse battery"},
        {
            "email": "ada@example.com",
            "password": "correct horse battery",
            "device_id": "tv-4f2a",
            "device_name": "Living-room TV",
        },
    )

    email: Email
    password: Password
    device_id: DeviceId | None = None
    device_name: DeviceName | None = None


class SessionOut(BaseModel):
    """A new session. The token also arrives as the ``matinee_session`` cookie."""

    model_config = _examples(
        {
            "token": "Zq1n3v8yJb0mXo0sY9cT6b4xQ2wE5rT7uI8oP1aS3dF",
            "expires_at": 1767225600,
            "account_id": _ACCOUNT_ID,
            "profile_id": None,
        }
    )

    token: str
    expires_at: int = Field(description="When the session ends, in seconds since the epoch")
    account_id: str
    profile_id: str | None = None


class ProfileOut(BaseModel):
    model_config = _examples(
        {
            "id": _PROFILE_ID,
            "account_id": _ACCOUNT_ID,
            "name": "Ada",
            "avatar": "owl",
            "language": "en",
            "maturity_level": 18,
            "kids": False,
        }
    )

    id: str
    account_id: str
    name: str
    avatar: str
    language: str
    maturity_level: int
    kids: bool


class MeOut(BaseModel):
    model_config = _examples(
        {
            "id": _ACCOUNT_ID,
            "email": "ada@example.com",
            "country": "GB",
            "roles": ["member"],
            "created_at": "2026-11-24T10:00:00Z",
            "session_id": _SESSION_ID,
            "expires_at": 1767225600,
            "profile": None,
        }
    )

    id: str
    email: str
    country: str
    roles: list[str]
    created_at: datetime
    session_id: str
    expires_at: int
    profile: ProfileOut | None = Field(description="The profile this session has selected")


class PasswordIn(BaseModel):
    model_config = _examples(
        {"current_password": "correct horse battery", "new_password": "purple monkey dishwasher"}
    )

    current_password: Password
    new_password: NewPassword


class PasswordOut(BaseModel):
    model_config = _examples({"revoked_sessions": 2})

    revoked_sessions: int = Field(description="How many other sessions were signed out")


class ProfileIn(BaseModel):
    model_config = _examples(
        {"name": "Ada", "avatar": "owl", "language": "en", "maturity_level": 18},
        {"name": "Kids", "kids": True},
    )

    name: ProfileName
    avatar: Avatar | None = Field(default=None, description="Default: popcorn")
    language: Language | None = Field(default=None, description="BCP 47 tag; default: en")
    maturity_level: Maturity | None = Field(
        default=None, description="The highest rating it may watch; default 18, kids 7"
    )
    kids: bool = Field(default=False, description="A kids profile never goes above 12")


class ProfilePatch(BaseModel):
    model_config = _examples({"avatar": "rocket"}, {"kids": True, "maturity_level": 0})

    name: ProfileName | None = None
    avatar: Avatar | None = None
    language: Language | None = None
    maturity_level: Maturity | None = None
    kids: bool | None = None


class ProfilePage(BaseModel):
    model_config = _examples(
        {
            "items": [
                {
                    "id": _PROFILE_ID,
                    "account_id": _ACCOUNT_ID,
                    "name": "Ada",
                    "avatar": "owl",
                    "language": "en",
                    "maturity_level": 18,
                    "kids": False,
                }
            ],
            "next_cursor": None,
        }
    )

    items: list[ProfileOut]
    next_cursor: str | None


class DeviceOut(BaseModel):
    model_config = _examples(
        {
            "id": "3e1d8b1a-8f0b-4b8e-9f7c-1c2d3e4f5a6b",
            "name": "Living-room TV",
            "user_agent": "Mozilla/5.0 (SMART-TV)",
            "created_at": "2026-11-24T10:00:00Z",
            "last_seen_at": "2026-11-25T19:30:00Z",
            "current": True,
        }
    )

    id: str
    name: str
    user_agent: str | None
    created_at: datetime
    last_seen_at: datetime
    current: bool = Field(description="True for the device this request comes from")


class DevicePage(BaseModel):
    model_config = _examples({"items": [], "next_cursor": None})

    items: list[DeviceOut]
    next_cursor: str | None


class DeviceRemovedOut(BaseModel):
    model_config = _examples({"revoked_sessions": 1})

    revoked_sessions: int


class AvatarsOut(BaseModel):
    model_config = _examples({"avatars": ["popcorn", "owl"]})

    avatars: list[str]


class ErrorOut(BaseModel):
    """Every error answer."""

    model_config = _examples(
        {
            "error": "invalid_credentials",
            "message": "The email or password is not right.",
            "request_id": "4bf92f3577b34da6",
        }
    )

    error: str
    message: str
    request_id: str | None = None


# Internal contracts (services/identity is called by the gateway and other services).


class ValidateIn(BaseModel):
    model_config = _examples({"token": "Zq1n3v8yJb0mXo0sY9cT6b4xQ2wE5rT7uI8oP1aS3dF"})

    token: str = Field(min_length=1, max_length=512)


class ValidateOut(BaseModel):
    model_config = _examples(
        {
            "account_id": _ACCOUNT_ID,
            "profile_id": _PROFILE_ID,
            "roles": ["member"],
            "session_id": _SESSION_ID,
            "expires_at": 1767225600,
            "country": "GB",
        }
    )

    account_id: str
    profile_id: str | None
    roles: list[str]
    session_id: str
    expires_at: int
    country: str


class AccountOut(BaseModel):
    model_config = _examples(
        {
            "id": _ACCOUNT_ID,
            "email": "ada@example.com",
            "country": "GB",
            "roles": ["member"],
            "created_at": "2026-11-24T10:00:00Z",
        }
    )

    id: str
    email: str
    country: str
    roles: list[str]
    created_at: datetime
