"""matinee's services, each a :class:`~matinee.runtime.app.ServiceSpec` run by the runtime."""

from __future__ import annotations

from matinee.runtime.app import ServiceSpec


def catalog() -> dict[str, ServiceSpec]:
    """Every service by name: the registry first, the gateway last (the order they start in)."""
    from matinee.services import gateway, media, registry  # noqa: PLC0415 - avoids a cycle

    specs = (registry.SPEC, media.SPEC, gateway.SPEC)
    return {spec.name: spec for spec in specs}
