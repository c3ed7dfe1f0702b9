"""Whether Redis is reachable, why not since when, and the backoff that paces recovery probes."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator

from redis.exceptions import (
    ClusterDownError,
    ConnectionError,
    OutOfMemoryError,
    ReadOnlyError,
    TimeoutError,
    TryAgainError,
)

from gateway.state.store import Clock

# Errors that mean "Redis cannot answer now" (decide locally), as opposed to bugs, which raise.
# ConnectionError covers refused/reset sockets, pool exhaustion and BusyLoadingError.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    ConnectionError,
    TimeoutError,
    ReadOnlyError,  # a replica promoted/demoted under us
    OutOfMemoryError,
    ClusterDownError,
    TryAgainError,
)


def describe(exc: BaseException) -> str:
    """A log-safe description: redis-py errors name host:port, never credentials."""
    return f"{type(exc).__name__}: {exc}"


class Connectivity:
    """Healthy until an operation fails transiently; healthy again once a probe succeeds."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._up = asyncio.Event()
        self.last_error: str | None = None
        self.degraded_since: float | None = None

    @property
    def healthy(self) -> bool:
        return self._up.is_set()

    def mark_up(self) -> None:
        self._up.set()
        self.degraded_since = None

    def mark_down(self, exc: BaseException) -> bool:
        """Record the failure; True if this call turned a healthy store degraded."""
        self.last_error = describe(exc)
        if not self._up.is_set() and self.degraded_since is not None:
            return False
        self._up.clear()
        self.degraded_since = self._clock()
        return True

    async def wait_up(self) -> None:
        await self._up.wait()


def backoff_delays(
    minimum: float, maximum: float, rng: random.Random | None = None
) -> Iterator[float]:
    """Exponential backoff with jitter (50-100 % of the step), so replicas never probe in step."""
    rng = rng or random.Random()
    step = minimum
    while True:
        yield step * rng.uniform(0.5, 1.0)
        step = min(maximum, step * 2)
