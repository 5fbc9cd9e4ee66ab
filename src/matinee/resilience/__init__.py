"""Resilience (the Hystrix and concurrency-limits roles): breakers, bulkheads, retries with a
budget, fallbacks, adaptive server concurrency limits, and a live view of them all."""

from matinee.resilience.breaker import BreakerConfig, BreakerState, CircuitBreaker
from matinee.resilience.bulkhead import Bulkhead
from matinee.resilience.dependency import Dependencies, Dependency, DependencyConfig
from matinee.resilience.errors import (
    BulkheadFull,
    CallTimeout,
    CircuitOpen,
    NoInstance,
    Overloaded,
    ResilienceError,
    UpstreamConnectError,
    UpstreamError,
    UpstreamReadTimeout,
    UpstreamStatusError,
)
from matinee.resilience.limits import (
    FixedLimit,
    Gradient2Limit,
    Limit,
    Limiter,
    Token,
    VegasLimit,
    WindowedLimit,
)
from matinee.resilience.middleware import ConcurrencyLimitMiddleware
from matinee.resilience.retry import RetryBudget, is_retryable

__all__ = [
    "BreakerConfig",
    "BreakerState",
    "Bulkhead",
    "BulkheadFull",
    "CallTimeout",
    "CircuitBreaker",
    "CircuitOpen",
    "ConcurrencyLimitMiddleware",
    "Dependencies",
    "Dependency",
    "DependencyConfig",
    "FixedLimit",
    "Gradient2Limit",
    "Limit",
    "Limiter",
    "NoInstance",
    "Overloaded",
    "ResilienceError",
    "RetryBudget",
    "Token",
    "UpstreamConnectError",
    "UpstreamError",
    "UpstreamReadTimeout",
    "UpstreamStatusError",
    "VegasLimit",
    "WindowedLimit",
    "is_retryable",
]
