"""Playback authorization: may this profile play this title here and now, and from where.

:meth:`PlaybackService.start` makes its lookups concurrently (entitlement, title, availability,
profile), then checks in a fixed order, so the reason a player shows is always the first that
applies:

1. the session (the gateway's signed identity; a profile must be chosen);
2. the subscription is entitled (trialing or active);
3. the title exists, is published and available in the member's country now;
4. the profile exists, is the account's, and its maturity level covers the title's rating;
5. the title has a packaged asset with a rendition no taller than the plan allows;
6. the plan's concurrent-stream limit (a stream lease, ``leases.Leases``).

Then it signs the manifest URLs for the asset's folder with the plan's height cap and asks
steering for the hosts. A lookup that fails raises 503 when its check is reached: a play that
could not be checked is never authorized.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from matinee.clock import Clock
from matinee.delivery.steering import Steering, SteeringRequest
from matinee.delivery.tokens import UrlSigner, signed_path
from matinee.gateway.auth import Identity
from matinee.services.playback import schemas
from matinee.services.playback.clients import Asset, Entitlement, Lookups, Plan, Profile, Title
from matinee.services.playback.errors import (
    MaturityRestricted,
    NoProfile,
    PlaybackError,
    PlaybackRefused,
    RegionUnavailable,
    RenditionUnavailable,
    SessionExpired,
    SubscriptionInactive,
    TitleNotFound,
    TitleUnavailable,
)
from matinee.services.playback.leases import Leases, StreamRequest
from matinee.telemetry.metrics import Registry

T = TypeVar("T")
MEDIA = "media/"  # signed paths name media as the origin's /media/ route does

_INACTIVE = {
    "none": "You have no subscription: choose a plan to start watching.",
    "past_due": "Your last payment did not go through: update your payment details to watch.",
    "canceled": "Your subscription has ended: restart it to watch.",
}


@dataclass(frozen=True)
class PlaybackConfig:
    """* ``lease_ttl_s``: a stream counts this long after its last start or heartbeat;
    * ``url_ttl_s``: how long signed manifest and segment URLs work;
    * ``bind_client_ip``: sign URLs for the requesting client's address only;
    * ``sweep_interval_s``: how often an instance deletes long-expired leases (0: never)."""

    lease_ttl_s: float = 90.0
    url_ttl_s: float = 6 * 3600.0
    bind_client_ip: bool = False
    sweep_interval_s: float = 3600.0

    def __post_init__(self) -> None:
        if self.lease_ttl_s <= 0 or self.url_ttl_s <= 0:
            raise ValueError("leases and signed URLs need a positive lifetime")

    @property
    def heartbeat_interval_s(self) -> float:
        """A third of the lease: two heartbeats may be lost before the stream is dropped."""
        return self.lease_ttl_s / 3


@dataclass(frozen=True, slots=True)
class Client:
    """Where a start came from: the base URL it used to reach us, and its address."""

    origin: str
    ip: str | None = None


async def _settled(awaitable: Awaitable[T]) -> T | BaseException:
    try:
        return await awaitable
    except Exception as exc:  # noqa: BLE001 - kept, and raised when its check is reached
        return exc


def _value(result: T | BaseException) -> T:
    if isinstance(result, BaseException):
        raise result
    return result


@dataclass(frozen=True)
class _Signed:
    manifests: schemas.Manifests
    expires_at: datetime
    valid_s: float


class PlaybackService:
    def __init__(
        self,
        lookups: Lookups,
        *,
        leases: Leases,
        signer: UrlSigner,
        steering: Steering,
        clock: Clock,
        config: PlaybackConfig,
        metrics: Registry | None = None,
    ) -> None:
        self.lookups = lookups
        self.leases = leases
        self.signer = signer
        self.steering = steering
        self.clock = clock
        self.config = config
        self.metrics = metrics

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.counter("playback.start", outcome=outcome).inc()

    async def start(
        self, who: Identity, title_id: str, device_id: str | None, client: Client
    ) -> schemas.StartOut:
        """Authorize a play, or raise the refusal that applies first."""
        try:
            play = await self._start(who, title_id, device_id, client)
        except PlaybackError as exc:
            self._count(getattr(exc, "code", type(exc).__name__))
            raise
        self._count("started")
        return play

    async def _checked(self, who: Identity, title_id: str) -> tuple[Plan, Title, str]:
        """Checks 1-4; returns the plan, the title and the member's country."""
        now = self.clock.time()
        if who.expires is not None and who.expires <= now:
            raise SessionExpired("Your session has ended: sign in again.")
        if who.profile is None:
            raise NoProfile("Choose a profile first.")
        country = who.country or await self.lookups.account_country(who.subject)
        if not country:
            raise RegionUnavailable("Your country is not known, so no title can be offered.")
        entitlement, title, availability, profile = await asyncio.gather(
            _settled(self.lookups.entitlement(who.subject)),
            _settled(self.lookups.title(title_id)),
            _settled(self.lookups.availability(title_id, country, now)),
            _settled(self.lookups.profile(who.profile)),
        )
        plan = self._entitled(_value(entitlement))
        found = _value(title)
        available = _value(availability)
        if found is None or available is None:
            raise TitleNotFound("There is no such title.")
        if not found.published or available.reason == "unpublished":
            raise TitleUnavailable("This title is not published.")
        if not available.available:
            if available.reason == "region":
                raise RegionUnavailable(f"This title is not available in your country ({country}).")
            raise TitleUnavailable("This title is not available to watch right now.")
        self._allowed(found, _value(profile), who)
        return plan, found, country

    @staticmethod
    def _entitled(entitlement: Entitlement) -> Plan:
        if not entitlement.entitled or entitlement.plan is None:
            message = _INACTIVE.get(entitlement.status, "Your subscription is not active.")
            raise SubscriptionInactive(message)
        return entitlement.plan

    @staticmethod
    def _allowed(title: Title, profile: Profile | None, who: Identity) -> None:
        if profile is None or profile.account_id != who.subject:
            raise NoProfile("This profile no longer exists: choose another.")
        if title.maturity > profile.maturity_level:
            raise MaturityRestricted(
                f"This title is rated {title.maturity}+; this profile may watch titles rated "
                f"up to {profile.maturity_level}+."
            )

    async def _asset(self, title: Title) -> Asset:
        asset = await self.lookups.asset(title.asset_id) if title.asset_id else None
        if asset is None:
            raise TitleUnavailable("This title has no video to play yet.")
        return asset

    @staticmethod
    def _renditions(asset: Asset, plan: Plan) -> list[schemas.Rendition]:
        allowed = [
            schemas.Rendition(
                name=t.name,
                width=t.width,
                height=t.height,
                average_bps=t.average_bps,
                codecs=t.codecs,
            )
            for t in asset.tracks
            if t.kind == "video" and t.height is not None and t.height <= plan.max_height
        ]
        if not allowed:
            raise RenditionUnavailable(
                f"This title has no version your {plan.name} plan can play "
                f"(up to {plan.max_height} pixels tall)."
            )
        return sorted(allowed, key=lambda r: (r.height, r.average_bps or 0))

    async def _start(
        self, who: Identity, title_id: str, device_id: str | None, client: Client
    ) -> schemas.StartOut:
        plan, title, country = await self._checked(who, title_id)
        asset = await self._asset(title)
        renditions = self._renditions(asset, plan)
        folder = self._folder(asset)
        grant = await self.leases.acquire(
            StreamRequest(
                account_id=who.subject,
                profile_id=str(who.profile),
                title_id=title.id,
                max_height=plan.max_height,
                max_streams=plan.max_streams,
                plan=plan.name,
                device_id=device_id,
            )
        )
        signed = self._sign(asset, plan, client)
        hosts = await self.steering.rank(
            SteeringRequest(client.origin, title.id, MEDIA + folder, client.ip, country)
        )
        return schemas.StartOut(
            lease_id=grant.lease.id,
            lease_expires_at=grant.lease.expires_at,
            heartbeat_interval_s=self.config.heartbeat_interval_s,
            title_id=title.id,
            asset_id=asset.id,
            max_height=plan.max_height,
            renditions=renditions,
            manifests=signed.manifests,
            urls_expire_at=signed.expires_at,
            urls_valid_s=signed.valid_s,
            delivery=[schemas.DeliveryHostOut(name=h.name, base_url=h.base_url) for h in hosts],
        )

    @staticmethod
    def _folder(asset: Asset) -> str:
        folder = asset.prefix.strip("/") + "/"
        if not (asset.hls_key.startswith(folder) and asset.dash_key.startswith(folder)):
            raise TitleUnavailable("This title's video is not packaged where it should be.")
        return folder

    def _sign(self, asset: Asset, plan: Plan, client: Client) -> _Signed:
        """Signed manifest paths for the asset's folder at the plan's height, and their end."""
        ip = client.ip if self.config.bind_client_ip else None
        token, claims = self.signer.issue(
            MEDIA + self._folder(asset),
            self.config.url_ttl_s,
            max_height=plan.max_height,
            client_ip=ip,
        )
        manifests = schemas.Manifests(
            dash=signed_path(token, MEDIA + asset.dash_key),
            hls=signed_path(token, MEDIA + asset.hls_key),
        )
        expires = datetime.fromtimestamp(claims.expires, UTC)
        return _Signed(manifests, expires, round(claims.expires - self.clock.time(), 3))

    async def refresh(self, who: Identity, lease_id: str, client: Client) -> schemas.RefreshOut:
        """New signed URLs for a stream that is still playing (those from the start work for
        ``url_ttl_s``), with its lease renewed. The play is checked again as at its start
        (session, subscription, title availability in the member's country, profile and
        maturity, a rendition the plan plays), so a subscription that ended, a title withdrawn
        or a profile removed since ends the stream here; a plan changed since gives its new
        height. The stream limit is not counted again: the stream already holds its slot."""
        lease = await self.leases.renew(who.subject, lease_id)
        try:
            plan, title, _ = await self._checked(who, lease.title_id)
            asset = await self._asset(title)
            self._renditions(asset, plan)
            signed = self._sign(asset, plan, client)
        except PlaybackRefused:
            await self.leases.release(who.subject, lease_id)  # the stream ends: its slot is free
            raise
        if self.metrics is not None:
            self.metrics.counter("playback.refresh").inc()
        return schemas.RefreshOut(
            lease_id=lease.id,
            lease_expires_at=lease.expires_at,
            max_height=plan.max_height,
            manifests=signed.manifests,
            urls_expire_at=signed.expires_at,
            urls_valid_s=signed.valid_s,
        )

    async def heartbeat(self, who: Identity, lease_id: str) -> schemas.HeartbeatOut:
        """Keep a stream's lease alive for another ``lease_ttl_s``."""
        lease = await self.leases.renew(who.subject, lease_id)
        return schemas.HeartbeatOut(
            lease_id=lease.id,
            lease_expires_at=lease.expires_at,
            heartbeat_interval_s=self.config.heartbeat_interval_s,
        )

    async def stop(self, who: Identity, lease_id: str) -> schemas.StopOut:
        """End a stream (its slot is free at once)."""
        released = await self.leases.release(who.subject, lease_id)
        return schemas.StopOut(lease_id=lease_id, released=released)
