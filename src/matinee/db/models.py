"""Imports every domain's models so Alembic and ``create_all`` see the whole schema."""


def load_all() -> None:
    import matinee.assets.models  # noqa: PLC0415
    import matinee.jobs.models  # noqa: PLC0415
    import matinee.services.billing.models  # noqa: PLC0415
    import matinee.services.catalog.models  # noqa: PLC0415
    import matinee.services.identity.models  # noqa: PLC0415
    import matinee.services.playback.models  # noqa: F401, PLC0415
