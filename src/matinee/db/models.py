"""Imports every domain's models so Alembic and ``create_all`` see the whole schema."""


def load_all() -> None:
    import matinee.assets.models  # noqa: PLC0415
    import matinee.jobs.models  # noqa: F401, PLC0415
