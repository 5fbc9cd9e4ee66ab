"""What the fill reads from other services, through the client stack.

* history: ``GET /internal/history/popular`` - plays per title in a country over recent days;
* catalog: ``GET /internal/catalog/releases`` - titles whose window opened (or opens) lately,
  and ``GET /internal/catalog/titles/{id}`` - a popular title's asset and windows;
* media: ``GET /internal/media/assets/{id}/objects`` - every file of an asset, with sizes.

Any of them failing raises :class:`FillUnavailable`: a fill run that cannot see the demand
does nothing rather than fill at random.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlencode

from matinee.resilience.errors import ResilienceError
from matinee.runtime.client import Clients
from matinee.services.steering.errors import FillUnavailable


@dataclass(frozen=True, slots=True)
class Window:
    """A title's availability window in one country (epoch seconds; ``ends_at`` None: open)."""

    country: str
    starts_at: float
    ends_at: float | None


@dataclass(frozen=True, slots=True)
class TitleInfo:
    """What the fill needs of a title: is it playable, its asset, where and when."""

    title_id: str
    asset_id: str | None
    published: bool
    windows: tuple[Window, ...]

    def released_in(self, countries: list[str], now: float, lookahead: float) -> float | None:
        """When the title opened (or opens, within ``lookahead``) in any of ``countries``:
        the start of the earliest window there that has not ended; None when it is not
        available there now or soon."""
        starts = [
            w.starts_at
            for w in self.windows
            if w.country in countries
            and (w.ends_at is None or w.ends_at > now)
            and w.starts_at <= now + lookahead
        ]
        return min(starts) if starts else None


@dataclass(frozen=True, slots=True)
class Release:
    title_id: str
    asset_id: str
    released_at: float


class FillSources(Protocol):
    async def popular(self, country: str, days: int, limit: int) -> dict[str, int]:
        """Plays per title in ``country`` over the last ``days`` days."""
        ...

    async def releases(self, country: str, since: float, until: float) -> list[Release]: ...

    async def title(self, title_id: str) -> TitleInfo | None: ...

    async def objects(self, asset_id: str) -> list[tuple[str, int]]:
        """Every object key of the asset (``assets/<id>/...``) with its size."""
        ...


def _epoch(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class ServiceSources:
    """:class:`FillSources` over the history, catalog and media services."""

    def __init__(self, clients: Clients, *, concurrency: int = 16) -> None:
        self._clients = clients
        self._gate = asyncio.Semaphore(concurrency)

    async def _get(self, service: str, path: str, *, missing_ok: bool = False) -> Any:
        async with self._gate:
            try:
                response = await self._clients.get(service).request("GET", path)
            except ResilienceError as exc:
                raise FillUnavailable(f"the {service} service did not answer: {exc}") from exc
        if response.status == 404 and missing_ok:
            return None
        if response.status != 200:
            raise FillUnavailable(f"the {service} service answered {response.status} to {path}")
        return response.json()

    async def popular(self, country: str, days: int, limit: int) -> dict[str, int]:
        query = urlencode({"country": country, "days": days, "limit": limit})
        body = await self._get("history", f"/internal/history/popular?{query}")
        return {t["title_id"]: int(t["plays"]) for t in body["titles"]}

    async def releases(self, country: str, since: float, until: float) -> list[Release]:
        query = urlencode({"country": country, "since": max(since, 0.0), "until": until})
        body = await self._get("catalog", f"/internal/catalog/releases?{query}")
        return [
            Release(t["title_id"], t["asset_id"], float(t["released_at"])) for t in body["titles"]
        ]

    async def title(self, title_id: str) -> TitleInfo | None:
        body = await self._get("catalog", f"/internal/catalog/titles/{title_id}", missing_ok=True)
        if body is None:
            return None
        windows = tuple(
            Window(
                w["country"],
                _epoch(w["starts_at"]),
                _epoch(w["ends_at"]) if w.get("ends_at") else None,
            )
            for w in body.get("availability", ())
        )
        return TitleInfo(body["id"], body.get("asset_id"), bool(body["published"]), windows)

    async def objects(self, asset_id: str) -> list[tuple[str, int]]:
        body = await self._get("media", f"/internal/media/assets/{asset_id}/objects")
        return [(o["key"], int(o["size"])) for o in body["objects"]]
