"""Telemetry (the Atlas role): dimensional metrics, Prometheus exposition, recent time series."""

from matinee.telemetry.metrics import Counter, Gauge, MetricId, Registry, Timer, TimerSnapshot

__all__ = ["Counter", "Gauge", "MetricId", "Registry", "Timer", "TimerSnapshot"]
