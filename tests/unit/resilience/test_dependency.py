"""The per-dependency wrapper: breaker, bulkhead, timeout, retries with a budget, fallbacks,
and the metrics and logs they leave."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from matinee.clock import FakeClock
from matinee.resilience.breaker import BreakerConfig, BreakerState
from matinee.resilience.dependency import Dependencies, Dependency, DependencyConfig
from matinee.resilience.errors import (
    BulkheadFull,
    CallTimeout,
    CircuitOpen,
    UpstreamConnectError,
    UpstreamReadTimeout,
    UpstreamStatusError,
)
from matinee.runtime.transport import Response
from matinee.telemetry.metrics import Registry

LOGGER = "matinee.resilience.dependency"


def make(config: DependencyConfig | None = None) -> tuple[Dependency, FakeClock, Registry]:
    clock = FakeClock()
    metrics = Registry(clock)
    return Dependency("catalog", config, clock=clock, metrics=metrics), clock, metrics


def state(dep: Dependency) -> BreakerState:
    """The breaker state, read through a call so that mypy does not narrow it between reads."""
    return dep.breaker.state


def script(*steps: str | Exception) -> tuple[Callable[[int], Awaitable[str]], list[int]]:
    """An attempt function playing ``steps`` in order (raise an exception, return a string)."""
    calls: list[int] = []

    async def attempt(n: int) -> str:
        calls.append(n)
        step = steps[min(len(calls), len(steps)) - 1]
        if isinstance(step, Exception):
            raise step
        return step

    return attempt, calls


async def fallback(exc: Exception) -> str:
    return f"fallback after {type(exc).__name__}"


def calls(metrics: Registry, outcome: str) -> int:
    return metrics.timer("resilience.call", dependency="catalog", outcome=outcome).count


def no_reserve(**kwargs: object) -> DependencyConfig:
    return DependencyConfig(budget_min_per_second=0.0, **kwargs)  # type: ignore[arg-type]


def test_success_is_timed_and_recorded() -> None:
    dep, clock, metrics = make()

    async def attempt(n: int) -> str:
        clock.advance(0.2)
        return "ok"

    assert asyncio.run(dep.call(attempt, idempotent=True)) == "ok"
    assert calls(metrics, "success") == 1
    assert metrics.timer(
        "resilience.call", dependency="catalog", outcome="success"
    ).snapshot().max == pytest.approx(0.2)
    assert dep.snapshot()["successes"] == 1


def test_connect_error_is_retried_on_the_next_attempt() -> None:
    dep, _, metrics = make()
    attempt, seen = script(UpstreamConnectError("refused"), "ok")
    assert asyncio.run(dep.call(attempt, idempotent=False)) == "ok"
    assert seen == [0, 1]
    assert metrics.counter("resilience.retry", dependency="catalog").value == 1
    assert dep.snapshot()["successes"] == 1  # the breaker sees one call that succeeded


def test_read_timeout_is_retried_only_when_idempotent() -> None:
    dep, _, _ = make()
    attempt, seen = script(UpstreamReadTimeout("slow"), "ok")
    with pytest.raises(UpstreamReadTimeout):
        asyncio.run(dep.call(attempt, idempotent=False))
    assert seen == [0]
    attempt, seen = script(UpstreamReadTimeout("slow"), "ok")
    assert asyncio.run(dep.call(attempt, idempotent=True)) == "ok"
    assert seen == [0, 1]


def test_503_is_retried_for_idempotent_calls_but_500_is_not() -> None:
    dep, _, _ = make()
    attempt, seen = script(UpstreamStatusError(Response(503, [])), "ok")
    assert asyncio.run(dep.call(attempt, idempotent=True)) == "ok"
    attempt, seen = script(UpstreamStatusError(Response(500, [])), "ok")
    with pytest.raises(UpstreamStatusError) as info:
        asyncio.run(dep.call(attempt, idempotent=True))
    assert seen == [0]
    assert info.value.response.status == 500


def test_retries_stop_at_the_configured_number() -> None:
    dep, _, metrics = make(DependencyConfig(retries=2))
    attempt, seen = script(UpstreamConnectError("refused"))
    with pytest.raises(UpstreamConnectError) as info:
        asyncio.run(dep.call(attempt, idempotent=True))
    assert seen == [0, 1, 2]
    assert info.value.dependency == "catalog"  # filled in for the error mapper
    assert metrics.counter("resilience.retry", dependency="catalog").value == 2
    assert calls(metrics, "failure") == 1


def test_budget_caps_retries() -> None:
    dep, _, metrics = make(no_reserve())  # 20 % of requests, no reserve
    outcomes = []
    for _ in range(10):
        attempt, _ = script(UpstreamConnectError("refused"), "ok")
        try:
            outcomes.append(asyncio.run(dep.call(attempt, idempotent=True)))
        except UpstreamConnectError:
            outcomes.append("failed")
    # the 5th and 10th requests have deposited enough for one retry each
    assert outcomes == ["failed"] * 4 + ["ok"] + ["failed"] * 4 + ["ok"]
    assert metrics.counter("resilience.retry", dependency="catalog").value == 2
    assert metrics.counter("resilience.retry.denied", dependency="catalog").value == 8


def test_timeout_covers_every_attempt() -> None:
    dep, _, metrics = make(DependencyConfig(timeout_s=0.02))

    async def attempt(n: int) -> str:
        await asyncio.Event().wait()
        return "never"

    with pytest.raises(CallTimeout, match=r"did not answer within 0\.02 s"):
        asyncio.run(dep.call(attempt, idempotent=True))
    assert calls(metrics, "timeout") == 1
    snap = dep.snapshot()
    assert (snap["timeouts"], snap["inflight"]) == (1, 0)


def test_a_timeout_error_of_the_attempt_itself_is_a_plain_failure() -> None:
    dep, _, metrics = make()
    attempt, _ = script(TimeoutError("the attempt's own timer"))
    with pytest.raises(TimeoutError, match="own timer"):
        asyncio.run(dep.call(attempt, idempotent=True))
    assert calls(metrics, "failure") == 1


def test_open_breaker_short_circuits_without_calling() -> None:
    dep, clock, metrics = make(DependencyConfig(breaker=BreakerConfig(request_volume_threshold=2)))
    attempt, seen = script(ValueError("broken"))
    for _ in range(2):
        with pytest.raises(ValueError, match="broken"):
            asyncio.run(dep.call(attempt, idempotent=True))
    assert state(dep) is BreakerState.OPEN
    with pytest.raises(CircuitOpen, match="circuit breaker is open") as info:
        asyncio.run(dep.call(attempt, idempotent=True))
    assert info.value.dependency == "catalog"
    assert seen == [0, 0]
    assert calls(metrics, "short_circuit") == 1
    assert metrics.gauge("resilience.breaker.state", dependency="catalog").value == 1.0

    clock.advance(5.0)  # the trial goes through, succeeds, and closes the breaker
    good, _ = script("ok")
    assert asyncio.run(dep.call(good, idempotent=True)) == "ok"
    assert state(dep) is BreakerState.CLOSED


def test_bulkhead_rejects_a_call_over_the_limit() -> None:
    dep, _, metrics = make(DependencyConfig(max_concurrent=1))

    async def main() -> None:
        release = asyncio.Event()

        async def held(n: int) -> str:
            await release.wait()
            return "held"

        first = asyncio.create_task(dep.call(held, idempotent=True))
        await asyncio.sleep(0)
        assert metrics.gauge("resilience.bulkhead.inflight", dependency="catalog").value == 1
        with pytest.raises(BulkheadFull):
            await dep.call(held, idempotent=True)
        assert (
            await dep.call(held, idempotent=True, fallback=fallback)
            == "fallback after BulkheadFull"
        )
        release.set()
        assert await first == "held"

    asyncio.run(main())
    assert calls(metrics, "rejected") == 1
    assert metrics.counter("resilience.fallback", dependency="catalog", cause="rejected").value == 1
    assert dep.snapshot()["rejected"] == 2


def test_fallback_is_served_counted_and_logged_once_per_state(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dep, _, metrics = make(DependencyConfig(breaker=BreakerConfig(request_volume_threshold=3)))
    attempt, _ = script(ValueError("broken"))
    caplog.set_level(logging.WARNING, logger=LOGGER)
    results = [asyncio.run(dep.call(attempt, idempotent=True, fallback=fallback)) for _ in range(5)]
    assert results == ["fallback after ValueError"] * 3 + ["fallback after CircuitOpen"] * 2
    assert metrics.counter("resilience.fallback", dependency="catalog", cause="failure").value == 3
    assert (
        metrics.counter("resilience.fallback", dependency="catalog", cause="short_circuit").value
        == 2
    )
    assert calls(metrics, "fallback") == 5
    logged = [r for r in caplog.records if r.name == LOGGER]
    # once while closed, once more after the third failure opened the breaker
    assert len(logged) == 2
    assert "serving the fallback for catalog" in logged[0].getMessage()


def test_a_failing_fallback_raises_and_the_call_counts_as_failed() -> None:
    dep, _, metrics = make()
    attempt, _ = script(ValueError("broken"))

    async def bad_fallback(exc: Exception) -> str:
        raise LookupError("no cached copy")

    with pytest.raises(LookupError, match="no cached copy"):
        asyncio.run(dep.call(attempt, idempotent=True, fallback=bad_fallback))
    assert calls(metrics, "failure") == 1
    assert calls(metrics, "fallback") == 0


def test_slow_calls_are_measured_on_the_injected_clock() -> None:
    config = DependencyConfig(
        breaker=BreakerConfig(slow_call_duration_s=1.0, request_volume_threshold=2)
    )
    dep, clock, _ = make(config)

    async def slow(n: int) -> str:
        clock.advance(1.5)
        return "late but fine"

    asyncio.run(dep.call(slow, idempotent=True))
    assert state(dep) is BreakerState.CLOSED
    asyncio.run(dep.call(slow, idempotent=True))
    assert state(dep) is BreakerState.OPEN
    assert dep.snapshot()["slow"] == 2


def test_a_cancelled_trial_hands_the_trial_back() -> None:
    dep, clock, _ = make(DependencyConfig(breaker=BreakerConfig(request_volume_threshold=1)))
    bad, _ = script(ValueError("broken"))
    with pytest.raises(ValueError, match="broken"):
        asyncio.run(dep.call(bad, idempotent=True))
    clock.advance(5.0)

    async def main() -> None:
        async def hang(n: int) -> str:
            await asyncio.Event().wait()
            return "never"

        trial = asyncio.create_task(dep.call(hang, idempotent=True))
        await asyncio.sleep(0)
        assert state(dep) is BreakerState.HALF_OPEN
        assert not dep.breaker.try_acquire()
        trial.cancel()
        with pytest.raises(asyncio.CancelledError):
            await trial
        assert dep.bulkhead.inflight == 0
        good, _ = script("ok")
        assert await dep.call(good, idempotent=True) == "ok"
        assert state(dep) is BreakerState.CLOSED

    asyncio.run(main())


def test_dependencies_registry() -> None:
    clock = FakeClock()
    metrics = Registry(clock)
    special = DependencyConfig(timeout_s=0.25, max_concurrent=3)
    deps = Dependencies(clock, metrics, {"history": special}, DependencyConfig(max_concurrent=7))
    history = deps.get("history")
    assert deps.get("history") is history
    assert history.config is special
    assert deps.get("catalog").bulkhead.max_concurrent == 7
    assert len(deps) == 2
    assert [d.name for d in deps] == ["history", "catalog"]
    snap = deps.snapshot()
    assert [s["name"] for s in snap] == ["catalog", "history"]
    assert snap[1]["timeout_s"] == 0.25
    assert snap[1]["max_concurrent"] == 3
    assert snap[0]["state"] == "closed"
    assert snap[0]["retry_budget"] == 100.0


def test_a_dependency_that_is_gone_is_forgotten_with_its_meters() -> None:
    clock = FakeClock()
    metrics = Registry(clock)
    deps = Dependencies(clock, metrics)
    gone, kept = deps.get("instance:media-2"), deps.get("media")

    async def main() -> None:
        async def ok(attempt: int) -> str:
            del attempt
            return "ok"

        for dep in (gone, kept):
            assert await dep.call(ok, idempotent=True) == "ok"

    asyncio.run(main())

    def tagged(name: str) -> set[str]:
        return {m.id.name for m in metrics.meters() if m.id.tag("dependency") == name}

    assert "resilience.breaker.state" in tagged("instance:media-2")
    assert deps.remove("instance:media-2")
    assert not deps.remove("instance:media-2")
    assert tagged("instance:media-2") == set()
    assert "resilience.breaker.state" in tagged("media")
    assert [d.name for d in deps] == ["media"]
    assert deps.get("instance:media-2") is not gone  # back later: a fresh breaker


def test_invalid_config_is_refused() -> None:
    with pytest.raises(ValueError, match="timeout"):
        DependencyConfig(timeout_s=0.0)
    with pytest.raises(ValueError, match="retries"):
        DependencyConfig(retries=-1)
