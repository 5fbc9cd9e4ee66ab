"""What the homepage asks other services, behind three small interfaces.

``CatalogLookup`` (titles a country may watch, one title's page, search, an episode's series),
``HistoryLookup`` (a profile's continue-watching and recent titles, a country's popular titles)
and ``ProfileLookup`` (a profile's maturity level, an account's country).
``clients.ServiceLookups`` answers all three through the client stack; tests use fakes.

Every method raises :class:`Unavailable` when its service cannot answer (no instance, breaker
open, timeout, 5xx, an answer off the contract); the homepage then falls back, counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from matinee.errors import MatineeError
from matinee.gateway.auth import Identity
from matinee.services.homepage.schemas import Card


class Unavailable(MatineeError):
    """A service the homepage reads could not answer."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(message)
        self.source = source


@dataclass(frozen=True)
class TitleInfo:
    """One title's page as the homepage needs it: the card, and what similarity looks at."""

    card: Card
    cast: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resume:
    """A continue-watching entry: a title to resume, or the next episode to start."""

    title_id: str
    kind: Literal["resume", "next_episode"]
    progress: float
    position_s: float


@dataclass(frozen=True)
class Plays:
    title_id: str
    plays: int


class CatalogLookup(Protocol):
    async def titles(
        self,
        country: str,
        maturity: int | None,
        *,
        limit: int,
        cursor: str | None = None,
    ) -> tuple[list[Card], str | None]:
        """Movies and series watchable now in ``country`` up to ``maturity``, newest first:
        one page and the next page's cursor."""
        ...

    async def title(self, title_id: str, country: str, maturity: int | None) -> TitleInfo | None:
        """A title (any kind) if watchable now in ``country`` up to ``maturity``, else None."""
        ...

    async def search(
        self, query: str, country: str, maturity: int | None, *, limit: int
    ) -> list[Card]:
        """Movies and series whose text matches ``query``, best first."""
        ...

    async def series_of(self, title_id: str) -> str | None:
        """The series of an episode; None for a movie, a series or an unknown title."""
        ...


class HistoryLookup(Protocol):
    async def continue_watching(self, viewer: Identity, *, limit: int) -> list[Resume]: ...

    async def recent_titles(self, viewer: Identity, *, limit: int) -> list[str]:
        """Titles the profile watched, most recent first, each once."""
        ...

    async def popular(self, country: str, *, days: int, limit: int) -> list[Plays] | None:
        """Most played titles in ``country`` over ``days``; None when history keeps no such
        ranking (yet)."""
        ...


class ProfileLookup(Protocol):
    async def maturity(self, profile_id: str) -> int | None:
        """The profile's maturity level; None when there is no such profile."""
        ...

    async def country(self, account_id: str) -> str | None: ...
