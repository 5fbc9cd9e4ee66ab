"""matinee's services, each a :class:`~matinee.runtime.app.ServiceSpec` run by the runtime."""

from __future__ import annotations

import importlib

from matinee.errors import MatineeError
from matinee.runtime.app import ServiceSpec

# Every service by name, in the order they are listed (registry first, gateway last). Each is
# the package ``matinee.services.<name>`` exporting ``SPEC``; they are imported on demand, so an
# instance process pays only for the service it runs.
NAMES = (
    "registry",
    "media",
    "identity",
    "billing",
    "catalog",
    "history",
    "homepage",
    "steering",
    "playback",
    "web",
    "gateway",
)


class UnknownService(MatineeError):
    """No service has that name."""


def service_spec(name: str) -> ServiceSpec:
    """The spec of one service (importing only its package)."""
    if name not in NAMES:
        raise UnknownService(f"there is no service called {name!r}; try one of {', '.join(NAMES)}")
    spec = importlib.import_module(f"matinee.services.{name}").SPEC
    if not isinstance(spec, ServiceSpec):
        raise TypeError(f"matinee.services.{name}.SPEC is not a ServiceSpec")
    return spec


def all_services() -> dict[str, ServiceSpec]:
    """Every service by name: the registry first, the gateway last (the order they start in)."""
    return {name: service_spec(name) for name in NAMES}
