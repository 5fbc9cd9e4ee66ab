"""The web service: the viewer app and the admin console (built by ``npm run build`` into
``web/app/dist``), and the admin console's read API over the fleet, the CDN and telemetry.

The gateway routes ``/`` (every page, ``/app/...`` files) and ``/api/admin`` here. Pages and
files are answered by ``static.py``; ``/api/admin/...`` (admin role only) by ``admin_api.py``,
which gathers from discovery's registry, every instance's breakers and series, and steering.
"""

from __future__ import annotations

from fastapi import APIRouter

from matinee.runtime.app import ServiceSpec
from matinee.runtime.context import ServiceContext
from matinee.services import NAMES
from matinee.services.web import admin_api, static
from matinee.services.web.cdn import CdnView
from matinee.services.web.errors import STATUS
from matinee.services.web.fleet import FleetView
from matinee.services.web.instances import InstanceCalls
from matinee.services.web.registry import RegistryView
from matinee.services.web.series import MetricsView


def build(ctx: ServiceContext) -> list[APIRouter]:
    runtime_apps = [n for n in NAMES if n != "registry"]  # the registry is not in discovery
    calls = InstanceCalls(ctx)
    fleet = FleetView(calls, RegistryView(ctx), runtime_apps)
    metrics = MetricsView(ctx, calls, runtime_apps)
    app = static.WebApp(static.dist_dir(ctx.settings))
    return [
        admin_api.router(ctx, fleet, CdnView(calls), metrics),
        static.router(app),  # last: its page route answers every other path
    ]


SPEC = ServiceSpec(
    "web",
    build=build,
    errors=STATUS,
    description="The viewer app, the admin console and the console's read API.",
)

__all__ = ["SPEC", "build"]
