"""Where a player should fetch media from: a ranked list of delivery hosts.

The playback service asks a :class:`Steering` for the hosts of each play. Until the CDN's
steering exists, :class:`OriginOnly` answers with the origin alone: the address the client
used to reach the gateway (which routes ``/t/...`` to the media service). A steering that
knows edges ranks them first and keeps the origin last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DeliveryHost:
    """One place that serves ``/t/<token>/media/...``: a name and a base URL (no trailing
    slash), e.g. ``origin`` at ``https://matinee.example``."""

    name: str
    base_url: str


@dataclass(frozen=True, slots=True)
class SteeringRequest:
    """What steering may rank by: the client's address and country, the title and the
    signed prefix of its package, and the origin's base URL (the last resort)."""

    origin: str
    title_id: str
    prefix: str
    client_ip: str | None = None
    country: str | None = None


class Steering(Protocol):
    async def rank(self, request: SteeringRequest) -> list[DeliveryHost]:
        """Delivery hosts for this play, best first; never empty."""
        ...


class OriginOnly:
    """Every play is served by the origin."""

    async def rank(self, request: SteeringRequest) -> list[DeliveryHost]:
        return [DeliveryHost("origin", request.origin)]
