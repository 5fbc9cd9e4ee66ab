"""Where a player should fetch media from: a ranked list of delivery hosts.

The playback service asks a :class:`Steering` for the hosts of each play.
:class:`SteeringClient` (the default) asks the steering service (``services/steering``): the
edges of the client's region, then the third-party CDN tier, then the origin. When steering
cannot answer, it falls back to :class:`OriginOnly` (counted as
``delivery.steering.fallback``, logged once per outage): the origin alone, the address the
client used to reach the gateway (which routes ``/t/...`` to the media service).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from matinee.telemetry.metrics import Registry

log = logging.getLogger(__name__)

HostKind = Literal["edge", "cdn", "origin"]
RANK_PATH = "/internal/steering/rank"


@dataclass(frozen=True, slots=True)
class DeliveryHost:
    """One place that serves ``/t/<token>/media/...``: a name and a base URL (no trailing
    slash), e.g. ``origin`` at ``https://matinee.example``, and what kind of host it is."""

    name: str
    base_url: str
    kind: HostKind = "origin"


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


class _Answer(Protocol):
    status: int

    def json(self) -> Any: ...


class Caller(Protocol):
    """The client of one service (``runtime.client.ServiceClient`` has this shape)."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: Sequence[tuple[str, str]] | None = None,
        body: bytes = b"",
        idempotent: bool | None = None,
        attempt_timeout: float | None = None,
    ) -> _Answer: ...


def _hosts(body: Any) -> list[DeliveryHost]:
    hosts = [
        DeliveryHost(str(h["name"]), str(h["base_url"]).rstrip("/"), h["kind"])
        for h in body["hosts"]
    ]
    if any(h.kind not in ("edge", "cdn", "origin") for h in hosts):
        raise ValueError("unknown kind of host")
    return hosts


class SteeringClient:
    """Ranks hosts by asking the steering service; the origin alone when it cannot."""

    def __init__(
        self, client: Caller, metrics: Registry | None = None, *, timeout_s: float = 0.5
    ) -> None:
        self._client = client
        self._metrics = metrics
        self._timeout_s = timeout_s
        self._failing = False

    async def rank(self, request: SteeringRequest) -> list[DeliveryHost]:
        body = {
            "client_ip": request.client_ip,
            "country": request.country,
            "title_id": request.title_id,
            "prefix": request.prefix,
            "origin": request.origin,
        }
        try:
            answer = await self._client.request(
                "POST",
                RANK_PATH,
                headers=[("content-type", "application/json")],
                body=json.dumps(body).encode(),
                idempotent=True,  # a ranking changes nothing: safe to retry elsewhere
                attempt_timeout=self._timeout_s,
            )
            if answer.status != 200:
                raise ValueError(f"steering answered HTTP {answer.status}")  # noqa: TRY301
            hosts = _hosts(answer.json())
        except Exception as exc:  # noqa: BLE001 - any failure: the origin serves, counted
            return self._fallback(request, exc)
        if self._failing:
            log.info("steering answers again")
            self._failing = False
        if not any(h.kind == "origin" for h in hosts):
            hosts.append(DeliveryHost("origin", request.origin))
        return hosts

    def _fallback(self, request: SteeringRequest, exc: Exception) -> list[DeliveryHost]:
        cause = type(exc).__name__
        if self._metrics is not None:
            self._metrics.counter("delivery.steering.fallback", cause=cause).inc()
        if not self._failing:
            log.warning("steering did not answer (%s: %s); serving from the origin", cause, exc)
            self._failing = True
        return [DeliveryHost("origin", request.origin)]
