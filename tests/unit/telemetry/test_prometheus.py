"""The Prometheus exposition, read back with prometheus_client's own parser."""

from __future__ import annotations

import math

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from matinee.clock import FakeClock
from matinee.telemetry import Registry, render
from matinee.telemetry.prometheus import label_name, metric_name


def parse(registry: Registry) -> dict[str, tuple[str, list[Sample]]]:
    text = render(registry).decode()
    return {f.name: (f.type, f.samples) for f in text_string_to_metric_families(text)}


def test_names_become_prometheus_names() -> None:
    assert metric_name("ipc.server.call") == "ipc_server_call"
    assert metric_name("9lives") == "_9lives"
    assert label_name("zone.name") == "zone_name"
    assert label_name("__name__") == "tag___name__"


def test_counter_is_exposed_with_total_suffix_and_labels() -> None:
    registry = Registry(FakeClock())
    registry.counter("gateway.shed", priority="low").inc(3)
    registry.counter("gateway.shed", priority="high").inc()
    text = render(registry).decode()
    assert "# TYPE gateway_shed_total counter" in text
    assert 'gateway_shed_total{priority="low"} 3.0' in text
    kind, samples = parse(registry)["gateway_shed"]
    assert kind == "counter"
    assert {(s.labels["priority"], s.value) for s in samples} == {("low", 3.0), ("high", 1.0)}


def test_gauges_and_gauge_functions() -> None:
    registry = Registry(FakeClock())
    registry.gauge("resilience.breaker.state", dependency="catalog").set(1)
    registry.gauge_fn("pool.size", lambda: 7)
    families = parse(registry)
    assert families["resilience_breaker_state"][1][0].value == 1.0
    assert families["pool_size"][1][0].value == 7.0


def test_timer_is_a_summary_in_seconds_with_max() -> None:
    registry = Registry(FakeClock())
    timer = registry.timer("ipc.server.call", service="media", route="/x", status="200")
    for ms in range(1, 101):
        timer.record(ms / 1000)
    families = parse(registry)
    kind, samples = families["ipc_server_call_seconds"]
    assert kind == "summary"
    by_name = {(s.name, s.labels.get("quantile")): s for s in samples}
    assert by_name[("ipc_server_call_seconds_count", None)].value == 100
    assert by_name[("ipc_server_call_seconds_sum", None)].value == pytest.approx(5.05)
    for q, expected in (("0.5", 0.050), ("0.9", 0.090), ("0.99", 0.099)):
        value = by_name[("ipc_server_call_seconds", q)].value
        assert value == pytest.approx(expected, rel=0.06)
    assert by_name[("ipc_server_call_seconds", "0.5")].labels["route"] == "/x"
    assert families["ipc_server_call_seconds_max"][1][0].value == pytest.approx(0.1)


def test_empty_timer_has_nan_quantiles_and_zero_count() -> None:
    registry = Registry(FakeClock())
    registry.timer("idle")
    samples = parse(registry)["idle_seconds"][1]
    quantiles = [s.value for s in samples if "quantile" in s.labels]
    assert len(quantiles) == 3
    assert all(math.isnan(v) for v in quantiles)
    assert next(s for s in samples if s.name == "idle_seconds_count").value == 0


def test_label_values_are_escaped() -> None:
    registry = Registry(FakeClock())
    registry.counter("odd", path='/a"b\\c\nd').inc()
    samples = parse(registry)["odd"][1]
    assert samples[0].labels["path"] == '/a"b\\c\nd'


def test_timer_tag_named_quantile_does_not_clash() -> None:
    registry = Registry(FakeClock())
    registry.timer("t", quantile="mine").record(0.01)
    samples = parse(registry)["t_seconds"][1]
    assert {s.labels.get("tag_quantile") for s in samples} == {"mine"}


def test_same_name_with_two_kinds_stays_a_valid_exposition() -> None:
    registry = Registry(FakeClock())
    registry.gauge("jobs").set(2)
    registry.counter("jobs", kind="done").inc()
    registry.gauge("jobs.total").set(5)  # free again: the counter moved to jobs_counter
    families = parse(registry)
    assert families["jobs"] == ("gauge", [Sample("jobs", {}, 2.0)])
    assert families["jobs_counter"][0] == "counter"
    assert families["jobs_total"] == ("gauge", [Sample("jobs_total", {}, 5.0)])
    text = render(registry).decode()
    assert text.count("# TYPE jobs ") == 1
    assert text.count("# TYPE jobs_total ") == 1


def test_failing_gauge_is_left_out(caplog: pytest.LogCaptureFixture) -> None:
    registry = Registry(FakeClock())
    registry.gauge_fn("broken", lambda: 1 / 0)
    registry.gauge("fine").set(1)
    families = parse(registry)
    assert "broken" not in families
    assert "fine" in families
    assert "reading gauge broken" in caplog.text


def test_removed_meter_is_no_longer_exposed() -> None:
    registry = Registry(FakeClock())
    counter = registry.counter("gone", instance="i-1")
    counter.inc()
    assert registry.remove(counter.id)
    assert not registry.remove(counter.id)
    assert "gone" not in parse(registry)
