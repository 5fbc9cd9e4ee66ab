"""Self-preservation: stop expiring leases when renewals drop below what is expected.

Eureka expects every registered client to renew every 30 s, so 2 renewals a minute each. When
the renewals of the last minute are not above 85% of that, it assumes the network failed rather
than the instances, and lets no lease expire until renewals recover. The number of clients goes
up with each new registration and down with each cancel; every 15 minutes it is re-counted from
the registry, but only upwards or by less than 15% (a sudden drop is what this guards against).
"""

from __future__ import annotations

from collections import deque

from matinee.clock import Clock
from matinee.discovery.config import DiscoveryConfig


class SelfPreservation:
    """Renewal counting and the decision whether leases may expire."""

    def __init__(self, config: DiscoveryConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._renewals: deque[float] = deque()
        self.expected_clients = 0

    def renewed(self) -> None:
        self._renewals.append(self._clock.monotonic())

    def client_added(self) -> None:
        self.expected_clients += 1

    def client_removed(self) -> None:
        self.expected_clients = max(0, self.expected_clients - 1)

    @property
    def renews_last_window(self) -> int:
        horizon = self._clock.monotonic() - self._config.renew_rate_window
        while self._renewals and self._renewals[0] <= horizon:
            self._renewals.popleft()
        return len(self._renewals)

    @property
    def threshold(self) -> int:
        """Renewals per window at or below which self-preservation starts."""
        cfg = self._config
        per_client = cfg.renew_rate_window / cfg.expected_client_renewal_interval
        return int(self.expected_clients * per_client * cfg.renewal_percent_threshold)

    @property
    def lease_expiration_enabled(self) -> bool:
        if not self._config.self_preservation:
            return True
        threshold = self.threshold
        return threshold > 0 and self.renews_last_window > threshold

    @property
    def active(self) -> bool:
        """True while self-preservation keeps expired leases in the registry."""
        return self._config.self_preservation and not self.lease_expiration_enabled

    def recount(self, registered: int) -> None:
        """Eureka's periodic re-count of the clients expected to renew."""
        pct = self._config.renewal_percent_threshold
        if registered > pct * self.expected_clients or not self._config.self_preservation:
            self.expected_clients = registered
