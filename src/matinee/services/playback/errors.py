"""The playback service's errors and their HTTP statuses.

Every refusal of a play carries a reason code (the JSON ``error``) a player can explain::

    PlaybackError
    ├── PlaybackRefused                       a play that may not start
    │   ├── SubscriptionInactive    403       subscription_inactive
    │   ├── TitleNotFound           404       title_not_found
    │   ├── TitleUnavailable        403       title_unavailable (unpublished, out of its window,
    │   │                                     not packaged yet)
    │   ├── RegionUnavailable       403       region_unavailable
    │   ├── NoProfile               403       no_profile
    │   ├── MaturityRestricted      403       maturity_restricted
    │   ├── RenditionUnavailable    403       rendition_unavailable (no version fits the plan)
    │   └── StreamLimitReached      409       stream_limit_reached (names the limit and plan)
    ├── SessionExpired              401       session_expired
    ├── LeaseNotFound               404       lease_not_found
    ├── LeaseExpired                410       lease_expired (start again)
    └── DependencyUnavailable       503       dependency_unavailable (a check could not be made)

No session at all is 401 ``unauthorized`` (``runtime.identity.Callers``).
"""

from __future__ import annotations

from matinee.db.aio import DatabaseUnavailable
from matinee.errors import MatineeError


class PlaybackError(MatineeError):
    """Base of the playback service's errors."""


class PlaybackRefused(PlaybackError):
    """The play may not start; ``code`` says why."""


class SubscriptionInactive(PlaybackRefused):
    code = "subscription_inactive"


class TitleNotFound(PlaybackRefused):
    code = "title_not_found"


class TitleUnavailable(PlaybackRefused):
    code = "title_unavailable"


class RegionUnavailable(PlaybackRefused):
    code = "region_unavailable"


class NoProfile(PlaybackRefused):
    code = "no_profile"


class MaturityRestricted(PlaybackRefused):
    code = "maturity_restricted"


class RenditionUnavailable(PlaybackRefused):
    code = "rendition_unavailable"


class StreamLimitReached(PlaybackRefused):
    code = "stream_limit_reached"

    def __init__(self, limit: int, plan: str) -> None:
        streams = "stream" if limit == 1 else "streams"
        super().__init__(
            f"Your {plan} plan allows {limit} {streams} at a time, and {limit} already "
            "playing. Stop one of them, or change plans, to watch here."
        )
        self.limit = limit
        self.plan = plan


class SessionExpired(PlaybackError):
    code = "session_expired"


class LeaseNotFound(PlaybackError):
    code = "lease_not_found"


class LeaseExpired(PlaybackError):
    code = "lease_expired"


class DependencyUnavailable(PlaybackError):
    """Another service needed to check the play did not answer (or answered nonsense)."""

    code = "dependency_unavailable"


STATUS: tuple[tuple[type[Exception], int], ...] = (
    (TitleNotFound, 404),
    (StreamLimitReached, 409),
    (PlaybackRefused, 403),
    (SessionExpired, 401),
    (LeaseNotFound, 404),
    (LeaseExpired, 410),
    (DependencyUnavailable, 503),
    (DatabaseUnavailable, 503),
)
