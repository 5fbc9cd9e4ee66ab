"""Telemetry (the Atlas role): dimensional metrics, Prometheus exposition, recent time series.

The HTTP endpoints live in :mod:`matinee.telemetry.api` (``router``), imported on its own so that
code which only counts things does not pull in FastAPI.
"""

from matinee.telemetry.metrics import Counter, Gauge, MetricId, Registry, Timer, TimerSnapshot
from matinee.telemetry.prometheus import CONTENT_TYPE, render
from matinee.telemetry.series import AGGREGATIONS, QueryError, Series, SeriesStore

__all__ = [
    "AGGREGATIONS",
    "CONTENT_TYPE",
    "Counter",
    "Gauge",
    "MetricId",
    "QueryError",
    "Registry",
    "Series",
    "SeriesStore",
    "Timer",
    "TimerSnapshot",
    "render",
]
