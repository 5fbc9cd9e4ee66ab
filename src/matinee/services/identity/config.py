"""The identity service's tunables, injected as one small frozen object (never read from the
environment here): password hashing cost, session lifetime, login rate limits, profile cap."""

from __future__ import annotations

from dataclasses import dataclass, field

DAY_S = 86_400.0


@dataclass(frozen=True)
class HashingConfig:
    """argon2id cost. The defaults are OWASP's minimum (19 MiB, 2 passes, 1 lane); tests may
    pass cheaper ones. Changing them rehashes each password at its owner's next sign-in.
    ``max_parallel`` bounds how many hashes run at once (0: one per CPU); the rest wait their
    turn instead of thrashing the CPUs and memory together."""

    memory_kib: int = 19 * 1024
    time_cost: int = 2
    parallelism: int = 1
    max_parallel: int = 0

    def __post_init__(self) -> None:
        if self.max_parallel < 0:
            raise ValueError("max_parallel cannot be negative")
        if self.memory_kib < 8 * self.parallelism or self.time_cost < 1 or self.parallelism < 1:
            raise ValueError("argon2 needs time_cost >= 1, parallelism >= 1, memory >= 8 KiB/lane")


@dataclass(frozen=True)
class WindowLimit:
    """At most ``attempts`` within any ``window_s`` seconds (a sliding window)."""

    attempts: int
    window_s: float

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.window_s <= 0:
            raise ValueError("a limit needs at least one attempt and a positive window")


@dataclass(frozen=True)
class IdentityConfig:
    """Everything tunable about the identity service.

    * ``session_ttl_s``: how long a session token lives (30 days);
    * ``signin_per_account``: failed sign-ins (or password checks) per email address;
    * ``signin_per_client``: failed sign-ins per client address (the gateway's X-Forwarded-For);
    * ``signup_per_client``: sign-ups per client address;
    * ``max_profiles``: profiles per account;
    * ``prune_interval_s``: how often an instance deletes long-expired sessions (0: never).
    """

    hashing: HashingConfig = field(default_factory=HashingConfig)
    session_ttl_s: float = 30 * DAY_S
    signin_per_account: WindowLimit = field(default_factory=lambda: WindowLimit(10, 900.0))
    signin_per_client: WindowLimit = field(default_factory=lambda: WindowLimit(100, 900.0))
    signup_per_client: WindowLimit = field(default_factory=lambda: WindowLimit(20, 3600.0))
    max_profiles: int = 5
    prune_interval_s: float = 3600.0

    def __post_init__(self) -> None:
        if self.session_ttl_s <= 0 or self.max_profiles < 1:
            raise ValueError("sessions need a positive lifetime and accounts at least 1 profile")
