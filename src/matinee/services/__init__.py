"""matinee's services, each a :class:`~matinee.runtime.app.ServiceSpec` run by the runtime."""

from __future__ import annotations

from matinee.runtime.app import ServiceSpec


def all_services() -> dict[str, ServiceSpec]:
    """Every service by name: the registry first, the gateway last (the order they start in)."""
    from matinee.services import (  # noqa: PLC0415 - avoids a cycle
        billing,
        catalog,
        gateway,
        history,
        identity,
        media,
        playback,
        registry,
    )

    specs = (
        registry.SPEC,
        media.SPEC,
        identity.SPEC,
        billing.SPEC,
        catalog.SPEC,
        history.SPEC,
        playback.SPEC,
        gateway.SPEC,
    )
    return {spec.name: spec for spec in specs}
