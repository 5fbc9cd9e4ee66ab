"""The homepage's lookups answered by the catalog, history and identity services.

Every call goes through ``ctx.clients`` (discovery, balancer, breaker, bulkhead, timeout,
retries) with a fallback: when no answer can be had, the client stack counts it
(``resilience.fallback`` {dependency}, logged once per breaker state change) and the lookup
raises :class:`~matinee.services.homepage.lookups.Unavailable`, which the homepage turns into
its own counted fallback. Calls on a member's behalf (history's continue-watching and history)
carry the member's identity, signed with the fleet's identity key as the gateway signs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict, ValidationError

from matinee.clock import Clock
from matinee.gateway.auth import Identity, identity_headers
from matinee.runtime.client import Clients
from matinee.runtime.transport import Response
from matinee.services.homepage.lookups import Plays, Resume, TitleInfo, Unavailable
from matinee.services.homepage.schemas import Artwork, Card, Genre

_UNAVAILABLE = 599  # the status our fallback answers with: never a real one
MAX_SERIES_ENTRIES = 10_000
A = TypeVar("A", bound=BaseModel)


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Credit(_Answer):
    name: str


class _Summary(_Answer):
    id: str
    kind: str
    name: str
    maturity: int
    artwork: Artwork = Artwork()
    genres: list[Genre] = []
    series_id: str | None = None
    season: int | None = None
    episode: int | None = None
    cast: list[_Credit] = []

    def card(self) -> Card:
        kind = self.kind if self.kind in ("movie", "series", "episode") else "movie"
        return Card.model_validate(
            {
                "id": self.id,
                "kind": kind,
                "name": self.name,
                "maturity": self.maturity,
                "artwork": self.artwork,
                "genres": self.genres,
                "series_id": self.series_id,
                "season": self.season,
                "episode": self.episode,
            }
        )


class _Page(_Answer):
    items: list[_Summary]
    next_cursor: str | None = None


class _Internal(_Answer):
    id: str
    kind: str
    series_id: str | None = None


class _ResumeItem(_Answer):
    title_id: str
    kind: str
    progress: float = 0.0
    position_s: float = 0.0


class _ResumePage(_Answer):
    items: list[_ResumeItem]


class _Event(_Answer):
    title_id: str


class _History(_Answer):
    items: list[_Event]


class _Popular(_Answer):
    titles: list[Plays]


class _Profile(_Answer):
    id: str
    maturity_level: int


class _Account(_Answer):
    id: str
    country: str | None = None


async def _unavailable(error: Exception) -> Response:
    return Response(_UNAVAILABLE, [], b"")


class ServiceLookups:
    """``CatalogLookup``, ``HistoryLookup`` and ``ProfileLookup`` over the client stack."""

    def __init__(self, clients: Clients, clock: Clock, identity_key: bytes | None) -> None:
        self.clients = clients
        self.clock = clock
        self.identity_key = identity_key or b""
        self._series: dict[str, str | None] = {}  # an episode never changes series

    async def _get(
        self, service: str, path: str, answer: type[A], headers: Sequence[tuple[str, str]] = ()
    ) -> A | None:
        """The 200 answer as ``answer``; None on 404; :class:`Unavailable` otherwise."""
        response = await self.clients.get(service).request(
            "GET", path, headers=headers, fallback=_unavailable
        )
        if response.status == 404:
            return None
        if response.status != 200:
            why = "is not answering" if response.status == _UNAVAILABLE else "answered badly"
            raise Unavailable(service, f"the {service} service {why} ({response.status})")
        try:
            return answer.model_validate_json(response.body)
        except ValidationError as exc:
            raise Unavailable(service, f"the {service} service answered off contract") from exc

    def _as(self, viewer: Identity) -> list[tuple[str, str]]:
        return identity_headers(viewer, self.identity_key, self.clock.time())

    # catalog

    async def titles(
        self, country: str, maturity: int | None, *, limit: int, cursor: str | None = None
    ) -> tuple[list[Card], str | None]:
        query: dict[str, Any] = {"country": country, "sort": "newest", "limit": limit}
        if maturity is not None:
            query["maturity_max"] = maturity
        if cursor is not None:
            query["cursor"] = cursor
        page = await self._get("catalog", f"/api/catalog/titles?{urlencode(query)}", _Page)
        if page is None:
            return [], None
        return [item.card() for item in page.items], page.next_cursor

    async def title(self, title_id: str, country: str, maturity: int | None) -> TitleInfo | None:
        query: dict[str, Any] = {"country": country}
        if maturity is not None:
            query["maturity_max"] = maturity
        path = f"/api/catalog/titles/{quote(title_id, safe='')}?{urlencode(query)}"
        found = await self._get("catalog", path, _Summary)
        if found is None:
            return None
        return TitleInfo(found.card(), tuple(c.name for c in found.cast))

    async def search(
        self, query: str, country: str, maturity: int | None, *, limit: int
    ) -> list[Card]:
        params: dict[str, Any] = {"q": query, "country": country, "limit": limit}
        if maturity is not None:
            params["maturity_max"] = maturity
        page = await self._get("catalog", f"/api/catalog/search?{urlencode(params)}", _Page)
        return [] if page is None else [item.card() for item in page.items]

    async def series_of(self, title_id: str) -> str | None:
        if title_id in self._series:
            return self._series[title_id]
        path = f"/internal/catalog/titles/{quote(title_id, safe='')}"
        found = await self._get("catalog", path, _Internal)
        series = found.series_id if found is not None and found.kind == "episode" else None
        if len(self._series) >= MAX_SERIES_ENTRIES:
            self._series.clear()
        self._series[title_id] = series
        return series

    # history

    async def continue_watching(self, viewer: Identity, *, limit: int) -> list[Resume]:
        path = f"/api/history/continue-watching?limit={limit}"
        page = await self._get("history", path, _ResumePage, self._as(viewer))
        if page is None:
            return []
        return [
            Resume(
                i.title_id,
                "next_episode" if i.kind == "next_episode" else "resume",
                i.progress,
                i.position_s,
            )
            for i in page.items
        ]

    async def recent_titles(self, viewer: Identity, *, limit: int) -> list[str]:
        page = await self._get("history", f"/api/history?limit={limit}", _History, self._as(viewer))
        return [] if page is None else list(dict.fromkeys(e.title_id for e in page.items))

    async def popular(self, country: str, *, days: int, limit: int) -> list[Plays] | None:
        query = urlencode({"country": country, "days": days, "limit": limit})
        found = await self._get("history", f"/internal/history/popular?{query}", _Popular)
        return None if found is None else found.titles

    # identity

    async def maturity(self, profile_id: str) -> int | None:
        path = f"/internal/identity/profiles/{quote(profile_id, safe='')}"
        found = await self._get("identity", path, _Profile)
        return None if found is None else found.maturity_level

    async def country(self, account_id: str) -> str | None:
        path = f"/internal/identity/accounts/{quote(account_id, safe='')}"
        found = await self._get("identity", path, _Account)
        return None if found is None else found.country
