"""Prometheus text exposition (format 0.0.4) of a :class:`~matinee.telemetry.metrics.Registry`.

Names are mapped the way Prometheus expects: dots and other odd characters become underscores
(``ipc.server.call`` -> ``ipc_server_call``), counters end in ``_total``, and timers become
summaries in seconds (``ipc_server_call_seconds`` with quantiles 0.5/0.9/0.99, ``_sum`` and
``_count``) plus a ``ipc_server_call_seconds_max`` gauge. The original dotted name is the HELP text.

Timer quantiles cover everything recorded since the process started (the series store keeps the
per-step percentiles).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator
from typing import ClassVar

from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from matinee.telemetry.metrics import Counter, Gauge, Meter, Registry, Timer

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
QUANTILES = (0.5, 0.9, 0.99)

_log = logging.getLogger(__name__)
_INVALID_NAME = re.compile(r"[^a-zA-Z0-9_:]")
_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9_]")


def metric_name(name: str) -> str:
    """A valid Prometheus metric name for a dotted matinee name."""
    out = _INVALID_NAME.sub("_", name)
    return f"_{out}" if not out or out[0].isdigit() else out


def label_name(key: str) -> str:
    """A valid Prometheus label name for a tag key (``__`` prefixes are reserved, so escaped)."""
    out = _INVALID_LABEL.sub("_", key)
    if not out or out[0].isdigit() or out.startswith("__"):
        out = f"tag_{out}"
    return out


def _labels(meter: Meter, reserved: str = "") -> dict[str, str]:
    labels: dict[str, str] = {}
    for key, value in meter.id.tags:
        name = label_name(key)
        if name == reserved:
            name = f"tag_{name}"
        labels[name] = value
    return labels


def _read_gauge(gauge: Gauge) -> float | None:
    try:
        return gauge.value
    except Exception:  # noqa: BLE001 - one failing gauge callback must not break the scrape
        _log.exception(
            "reading gauge %s %s failed; left out of /metrics", gauge.id.name, gauge.id.tags
        )
        return None


class _Families:
    """Meters grouped into exposition families: one per (name, kind), names made unique."""

    _SUFFIXES: ClassVar[dict[str, tuple[str, ...]]] = {
        "counter": ("", "_total"),
        "gauge": ("",),
        "summary": ("", "_sum", "_count"),
    }

    def __init__(self) -> None:
        self._families: dict[tuple[str, str], Metric] = {}
        self._claimed: set[str] = set()

    def get(self, name: str, kind: str, doc: str) -> Metric:
        key = (name, kind)
        family = self._families.get(key)
        if family is None:
            # two families whose sample names overlap would make an invalid exposition:
            # the later one gets its kind as a suffix
            exposed = name
            if any(name + s in self._claimed for s in self._SUFFIXES[kind]):
                exposed = f"{name}_{kind}"
            self._claimed.update(exposed + s for s in self._SUFFIXES[kind])
            family = Metric(exposed, doc, kind)
            self._families[key] = family
        return family

    def __iter__(self) -> Iterator[Metric]:
        return iter(self._families.values())


class RegistryCollector(Collector):
    """A prometheus_client collector that reads every meter of a registry when scraped."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        families = _Families()
        for meter in sorted(self.registry.meters(), key=lambda m: (m.id.name, m.id.tags)):
            base = metric_name(meter.id.name)
            doc = meter.id.name
            if isinstance(meter, Counter):
                family = families.get(base, "counter", doc)
                family.add_sample(f"{family.name}_total", _labels(meter), meter.value)
            elif isinstance(meter, Gauge):
                value = _read_gauge(meter)
                if value is not None:
                    family = families.get(base, "gauge", doc)
                    family.add_sample(family.name, _labels(meter), value)
            elif isinstance(meter, Timer):
                _add_timer(families, base, doc, meter)
        yield from families


def _add_timer(families: _Families, base: str, doc: str, timer: Timer) -> None:
    snap = timer.snapshot()
    labels = _labels(timer, reserved="quantile")
    summary = families.get(f"{base}_seconds", "summary", doc)
    for q in QUANTILES:
        value = snap.percentile(q * 100.0) if snap.count else math.nan
        summary.add_sample(summary.name, {**labels, "quantile": str(q)}, value)
    summary.add_sample(f"{summary.name}_sum", labels, snap.total)
    summary.add_sample(f"{summary.name}_count", labels, float(snap.count))
    peak = families.get(f"{base}_seconds_max", "gauge", f"{doc} (largest duration seen)")
    peak.add_sample(peak.name, labels, snap.max)


def render(registry: Registry) -> bytes:
    """The registry's meters in the Prometheus text format (``CONTENT_TYPE``)."""
    return generate_latest(RegistryCollector(registry))
