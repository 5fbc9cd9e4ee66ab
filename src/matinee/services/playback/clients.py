"""What playback asks other services, behind one small interface.

:class:`Lookups` is the six questions a start needs answered (entitlement from billing; the
title and its availability from catalog; the profile, and the account's country when the
session does not carry one, from identity; the packaged asset from media).
:class:`ServiceLookups` asks them through ``ctx.clients`` (discovery, balancer, breaker,
retries). Answers are validated against the internal contracts; a service that cannot be
reached, fails, or answers something off-contract raises :class:`DependencyUnavailable` (503):
a play that could not be checked is never allowed.
"""

from __future__ import annotations

from typing import Protocol, TypeVar
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict, ValidationError

from matinee.resilience.errors import ResilienceError
from matinee.runtime.client import Clients
from matinee.services.playback.errors import DependencyUnavailable


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Plan(_Answer):
    code: str
    name: str
    max_streams: int
    max_height: int


class Entitlement(_Answer):
    status: str
    entitled: bool
    plan: Plan | None = None


class Title(_Answer):
    id: str
    name: str = ""
    published: bool
    maturity: int
    asset_id: str | None = None


class Availability(_Answer):
    available: bool
    reason: str | None = None


class Profile(_Answer):
    id: str
    account_id: str
    maturity_level: int
    kids: bool = False


class Account(_Answer):
    id: str
    country: str | None = None


class Track(_Answer):
    kind: str
    name: str
    codecs: str | None = None
    width: int | None = None
    height: int | None = None
    average_bps: int | None = None


class Asset(_Answer):
    id: str
    prefix: str
    hls_key: str
    dash_key: str
    tracks: list[Track] = []


NO_ENTITLEMENT = Entitlement(status="none", entitled=False)


class Lookups(Protocol):
    async def entitlement(self, account_id: str) -> Entitlement: ...

    async def title(self, title_id: str) -> Title | None: ...

    async def availability(self, title_id: str, country: str, at: float) -> Availability | None:
        """None when the title is unknown."""
        ...

    async def profile(self, profile_id: str) -> Profile | None: ...

    async def account_country(self, account_id: str) -> str | None: ...

    async def asset(self, asset_id: str) -> Asset | None: ...


A = TypeVar("A", bound=_Answer)


class ServiceLookups:
    """:class:`Lookups` answered by the identity, billing, catalog and media services."""

    def __init__(self, clients: Clients) -> None:
        self.clients = clients

    async def _get(self, service: str, path: str, answer: type[A]) -> A | None:
        """The 200 answer as ``answer``, None on 404; DependencyUnavailable otherwise."""
        try:
            response = await self.clients.get(service).request("GET", path)
        except ResilienceError as exc:
            raise DependencyUnavailable(
                f"Playback cannot be checked right now: the {service} service is not "
                "answering. Try again in a moment."
            ) from exc
        if response.status == 404:
            return None
        if response.status != 200:
            raise DependencyUnavailable(
                f"Playback cannot be checked right now: the {service} service answered "
                f"{response.status}. Try again in a moment."
            )
        try:
            return answer.model_validate_json(response.body)
        except ValidationError as exc:
            raise DependencyUnavailable(
                f"Playback cannot be checked right now: the {service} service gave an "
                "answer playback does not understand."
            ) from exc

    async def entitlement(self, account_id: str) -> Entitlement:
        path = f"/internal/billing/entitlements/{quote(account_id, safe='')}"
        return await self._get("billing", path, Entitlement) or NO_ENTITLEMENT

    async def title(self, title_id: str) -> Title | None:
        return await self._get(
            "catalog", f"/internal/catalog/titles/{quote(title_id, safe='')}", Title
        )

    async def availability(self, title_id: str, country: str, at: float) -> Availability | None:
        query = urlencode({"country": country, "at": int(at)})
        path = f"/internal/catalog/titles/{quote(title_id, safe='')}/available?{query}"
        return await self._get("catalog", path, Availability)

    async def profile(self, profile_id: str) -> Profile | None:
        path = f"/internal/identity/profiles/{quote(profile_id, safe='')}"
        return await self._get("identity", path, Profile)

    async def account_country(self, account_id: str) -> str | None:
        path = f"/internal/identity/accounts/{quote(account_id, safe='')}"
        account = await self._get("identity", path, Account)
        return account.country if account else None

    async def asset(self, asset_id: str) -> Asset | None:
        return await self._get("media", f"/api/assets/{quote(asset_id, safe='')}", Asset)
