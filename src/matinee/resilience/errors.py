"""The errors of a call to another service, as the client stack raises them.

The gateway maps them to HTTP the way Zuul does (``gateway/errors.py`` is the one place):

=========================  ======  =========================================
error                      status  meaning
=========================  ======  =========================================
NoInstance                 502     discovery knows no instance that is up
UpstreamConnectError       502     the chosen instance refused or reset
CircuitOpen                503     the breaker is open; the call was not made
BulkheadFull               503     too many calls to this dependency at once
Overloaded                 503     this server sheds load (limit or priority)
UpstreamReadTimeout        504     the instance accepted but did not answer
CallTimeout                504     the whole call (with retries) ran out of time
UpstreamStatusError        (the upstream's own 5xx response, passed through)
=========================  ======  =========================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from matinee.errors import MatineeError

if TYPE_CHECKING:
    from matinee.runtime.transport import Response


class ResilienceError(MatineeError):
    """A call to a dependency did not produce an answer."""

    def __init__(self, message: str, *, dependency: str = "") -> None:
        super().__init__(message)
        self.dependency = dependency


class NoInstance(ResilienceError):
    """Discovery has no instance of the service that is UP (and not skipped)."""


class CircuitOpen(ResilienceError):
    """The dependency's breaker is open: the call was short-circuited."""


class BulkheadFull(ResilienceError):
    """The dependency already has its maximum number of concurrent calls."""


class Overloaded(ResilienceError):
    """The server refuses work it cannot do in time (concurrency limit or priority shedding)."""

    def __init__(self, message: str, *, retry_after: float = 1.0, dependency: str = "") -> None:
        super().__init__(message, dependency=dependency)
        self.retry_after = retry_after


class CallTimeout(ResilienceError):
    """The whole call, retries included, exceeded the dependency's timeout."""


class UpstreamError(ResilienceError):
    """One attempt against one instance failed."""

    def __init__(self, message: str, *, instance: str = "", dependency: str = "") -> None:
        super().__init__(message, dependency=dependency)
        self.instance = instance


class UpstreamConnectError(UpstreamError):
    """The instance could not be reached (refused, reset before a request was sent).

    Always safe to retry on another instance: the request never reached an application.
    """


class UpstreamReadTimeout(UpstreamError):
    """The instance took the request but did not answer in time. Retry only idempotent calls."""


class UpstreamStatusError(UpstreamError):
    """The instance answered with a 5xx. Counts as a failure; the response is passed through."""

    def __init__(self, response: Response, *, instance: str = "", dependency: str = "") -> None:
        super().__init__(
            f"{dependency or 'upstream'} answered {response.status}",
            instance=instance,
            dependency=dependency,
        )
        self.response = response
