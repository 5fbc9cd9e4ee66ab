"""The plans matinee sells: fixed codes and limits, prices that an administrator may change.

The codes and their limits are part of the contract between services (playback reads
``max_streams`` and ``max_height`` through the entitlements endpoint); only the price and its
currency are configurable. :data:`DEFAULT_PLANS` is what migration 0003 inserts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PlanCode = Literal["basic", "standard", "premium"]
PLAN_CODES: tuple[PlanCode, ...] = ("basic", "standard", "premium")
DEFAULT_CURRENCY = "USD"


@dataclass(frozen=True)
class PlanDefaults:
    code: PlanCode
    name: str
    max_streams: int
    max_height: int
    price_cents: int
    currency: str = DEFAULT_CURRENCY


DEFAULT_PLANS: tuple[PlanDefaults, ...] = (
    PlanDefaults("basic", "Basic", max_streams=1, max_height=720, price_cents=699),
    PlanDefaults("standard", "Standard", max_streams=2, max_height=1080, price_cents=1549),
    PlanDefaults("premium", "Premium", max_streams=4, max_height=2160, price_cents=2299),
)
