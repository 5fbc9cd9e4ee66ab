"""The errors of the discovery package.

The registry API maps them to HTTP itself (``discovery/api.py``): an invalid registration is a
400 with the reason in plain words, as Eureka answers it. Callers of the client never see
:class:`RegistryUnavailable` when they only read the cache: it is raised by explicit calls
(register, fetch) when every registry peer failed.
"""

from __future__ import annotations

from matinee.errors import MatineeError


class DiscoveryError(MatineeError):
    """Something in service discovery went wrong."""


class InvalidInstance(DiscoveryError):
    """A registration or a registry payload does not describe an instance Eureka would accept."""


class RegistryUnavailable(DiscoveryError):
    """No registry peer answered (every one refused, timed out or failed with a 5xx)."""
