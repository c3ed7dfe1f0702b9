"""The Store contract: shared state for admission (rate limits, budgets), backend slots and usage.

Two implementations pass one contract suite: ``MemoryStore`` (one process, no I/O) and
``RedisStore`` (replicas share everything; local fallback while Redis is away).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from gateway.metering.record import UsageRecord
from gateway.state.usage import UsageFilter, UsageReport

Clock = Callable[[], float]
"""Wall-clock epoch seconds (``time.time``); tests pass a fake one."""

SlotListener = Callable[[str], None]
"""Called with a backend name when one of its slots is released (must be cheap: set an event)."""

Period = Literal["day", "month"]


class StoreUnavailableError(RuntimeError):
    """A read that only the shared store can answer (reports, exports) while it is unreachable."""


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Per-key limits per minute (None: unlimited). TPM counts prompt + max_tokens, as OpenAI."""

    rpm: int | None = None
    tpm: int | None = None

    def __post_init__(self) -> None:
        for name, value in (("rpm", self.rpm), ("tpm", self.tpm)):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 or None, got {value}")


@dataclass(frozen=True, slots=True)
class RateDecision:
    """One admission decision and the numbers behind the ``x-ratelimit-*`` headers.

    ``reset_*_s`` is the time until that limit is fully replenished; ``remaining_*`` counts what
    is left after this request. ``too_large``: the request alone exceeds the TPM limit, so
    retrying can never help (``retry_after_s`` is then one window).
    """

    allowed: bool
    retry_after_s: float
    limit_requests: int | None = None
    remaining_requests: int | None = None
    reset_requests_s: float | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_tokens_s: float | None = None
    too_large: bool = False

    def headers(self) -> dict[str, str]:
        """OpenAI's rate-limit headers for the limits that are set (durations like ``6m0s``)."""
        out: dict[str, str] = {}
        for kind, limit, remaining, reset in (
            ("requests", self.limit_requests, self.remaining_requests, self.reset_requests_s),
            ("tokens", self.limit_tokens, self.remaining_tokens, self.reset_tokens_s),
        ):
            if limit is None or remaining is None or reset is None:
                continue
            out[f"x-ratelimit-limit-{kind}"] = str(limit)
            out[f"x-ratelimit-remaining-{kind}"] = str(remaining)
            out[f"x-ratelimit-reset-{kind}"] = format_duration(reset)
        return out


def format_duration(seconds: float) -> str:
    """OpenAI's reset format: ``20ms``, ``1s``, ``1.5s``, ``6m0s``, ``1h2m3s``."""
    if seconds < 1:
        return f"{math.ceil(seconds * 1000)}ms"
    whole = math.ceil(seconds * 1000) / 1000
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    sec_text = f"{secs:.3f}".rstrip("0").rstrip(".")
    if hours:
        return f"{int(hours)}h{int(minutes)}m{sec_text}s"
    if minutes:
        return f"{int(minutes)}m{sec_text}s"
    return f"{sec_text}s"


def check_amount(name: str, value: int) -> None:
    """Token counts and money are never negative: a negative cost would refund a limit."""
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


@dataclass(frozen=True, slots=True)
class Budget:
    """A tenant's spending limit per UTC calendar period, in integer nano-dollars.

    The scripts compare amounts as Lua doubles: exact below 2**53 nano-USD (about $9M).
    """

    limit_nano: int
    period: Period = "month"

    def __post_init__(self) -> None:
        if self.limit_nano < 0:
            raise ValueError("limit_nano must be >= 0")
        if self.period not in ("day", "month"):
            raise ValueError(f"period must be 'day' or 'month', got {self.period!r}")


@dataclass(frozen=True, slots=True)
class BudgetDecision:
    """Reserve-at-admission outcome; ``reserved_nano`` includes this reservation when allowed."""

    allowed: bool
    limit_nano: int
    spent_nano: int
    reserved_nano: int
    resets_at: float  # epoch seconds when the period (and its spend) starts afresh
    retry_after_s: float  # 0 when allowed

    @property
    def remaining_nano(self) -> int:
        return max(0, self.limit_nano - self.spent_nano - self.reserved_nano)


@dataclass(frozen=True, slots=True)
class SlotGrant:
    """A slot decision plus the backend's global occupancy after it.

    ``next_expiry_s``: when refused, seconds until the oldest blocking lease lapses unless renewed,
    so a scheduler can set a timer for leases of a dead replica instead of polling.
    """

    granted: bool
    in_use: int
    general_in_use: int
    next_expiry_s: float | None = None


@dataclass(frozen=True, slots=True)
class StoreStatus:
    """For ``/readyz`` and metrics. ``degraded``: Redis unreachable, deciding on local limits."""

    kind: Literal["memory", "redis"]
    state: Literal["healthy", "degraded"]
    spooled: int = 0  # usage records on local disk waiting to reach Redis
    spool_dropped: int = 0  # records lost because the spool was full
    last_error: str | None = None
    degraded_since: float | None = None  # epoch seconds

    @property
    def healthy(self) -> bool:
        return self.state == "healthy"

    def to_json(self) -> dict[str, Any]:
        """The shape ``/admin/state`` and ``/readyz`` report."""
        return {
            "kind": self.kind,
            "state": self.state,
            "healthy": self.healthy,
            "spooled": self.spooled,
            "spool_dropped": self.spool_dropped,
            "last_error": self.last_error,
            "degraded_since": self.degraded_since,
        }


class Store(Protocol):
    """Shared state behind the gateway. Every mutating call is one atomic decision.

    YAML (``state`` section, see ``StateConfig``)::

        state:
          kind: redis              # or memory (default)
          redis_url: redis://:secret@redis:6379/0
          namespace: tokengate
          replicas: 3
    """

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def check_rate(self, key_id: str, limits: RateLimits, tokens: int) -> RateDecision:
        """GCRA per minute on requests and tokens; counts the request (both limits) iff allowed."""
        ...

    async def reserve_budget(
        self, tenant: str, request_id: str, amount_nano: int, budget: Budget
    ) -> BudgetDecision:
        """Allowed iff spent + reserved + amount <= limit; idempotent per request id."""
        ...

    async def release_budget(self, tenant: str, request_id: str) -> None:
        """Drop a reservation whose request ends without a usage record (rejected later on)."""
        ...

    async def settle(self, record: UsageRecord) -> bool:
        """Apply a finished request once: release its reservation, add its charge to the
        tenant's spend, add it to usage totals and the usage stream. False if applied before."""
        ...

    async def acquire_slot(
        self, backend: str, lease_id: str, *, general: bool, capacity: int, general_limit: int
    ) -> SlotGrant:
        """Granted iff leases < capacity and, when ``general``, general leases < general_limit."""
        ...

    async def release_slot(self, backend: str, lease_id: str) -> None: ...

    async def renew_leases(self) -> None:
        """Extend this replica's leases (the background heartbeat calls it; tests may too)."""
        ...

    def on_slot_released(self, listener: SlotListener) -> Callable[[], None]:
        """Call ``listener(backend)`` when a slot is released anywhere; returns an unsubscribe."""
        ...

    async def usage_report(self, filters: UsageFilter, group_by: Sequence[str]) -> UsageReport: ...

    def export_records(self, filters: UsageFilter) -> AsyncIterator[UsageRecord]:
        """Raw records still retained, for a JSONL export (no global order across tenants)."""
        ...

    def status(self) -> StoreStatus: ...
