"""Per-replica decisions while Redis is unreachable: each replica takes 1/replicas of a limit.

A full limit per replica would make every limit N times too generous with N replicas (the
LiteLLM failure); 1/N is exact when a load balancer spreads traffic evenly and conservative
otherwise. Shares round up so a small limit never becomes zero. The decisions report these
local shares in their limit/remaining figures.

- rate limits: GCRA on ceil(limit / replicas), fresh at each outage;
- budgets: (limit - spend Redis last reported this period) // replicas, reserved locally and
  charged by local settles (a tenant never seen before Redis left gets limit // replicas);
- slots: ceil(capacity / replicas), counting the leases this replica already holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from gateway.metering.record import UsageRecord
from gateway.state.memory import MemoryStore
from gateway.state.periods import period_id
from gateway.state.store import (
    Budget,
    BudgetDecision,
    Clock,
    Period,
    RateDecision,
    RateLimits,
    SlotGrant,
)


def share(limit: int, replicas: int) -> int:
    return math.ceil(limit / replicas)


class LocalFallback:
    """Degraded-mode decisions of one replica, built fresh when Redis goes away."""

    def __init__(
        self,
        *,
        replicas: int,
        clock: Clock,
        held_leases: Mapping[str, Mapping[str, bool]],
        spent_seen: Mapping[tuple[str, Period], tuple[str, int]],
        settle_marker_ttl_s: float,
        reservation_ttl_s: float,
    ) -> None:
        self._replicas = replicas
        self._clock = clock
        self._held = held_leases
        self._spent_seen = spent_seen
        # Raw records here only detect duplicate settles during the outage; the spool keeps them.
        self.memory = MemoryStore(
            clock=clock,
            max_records=10_000,
            settle_marker_ttl_s=settle_marker_ttl_s,
            reservation_ttl_s=reservation_ttl_s,
        )

    async def check_rate(self, key_id: str, limits: RateLimits, tokens: int) -> RateDecision:
        local = RateLimits(
            rpm=None if limits.rpm is None else share(limits.rpm, self._replicas),
            tpm=None if limits.tpm is None else share(limits.tpm, self._replicas),
        )
        return await self.memory.check_rate(key_id, local, tokens)

    async def reserve_budget(
        self, tenant: str, request_id: str, amount_nano: int, budget: Budget
    ) -> BudgetDecision:
        seen_period, spent = self._spent_seen.get((tenant, budget.period), ("", 0))
        if seen_period != period_id(budget.period, self._clock()):
            spent = 0  # Redis last answered in an earlier period
        local = Budget(max(0, budget.limit_nano - spent) // self._replicas, budget.period)
        return await self.memory.reserve_budget(tenant, request_id, amount_nano, local)

    async def settle(self, record: UsageRecord) -> bool:
        return await self.memory.settle(record)

    def acquire_slot(
        self, backend: str, lease_id: str, *, general: bool, capacity: int, general_limit: int
    ) -> SlotGrant:
        held = self._held.get(backend, {})
        in_general = sum(held.values())
        granted = lease_id in held or (
            len(held) < share(capacity, self._replicas)
            and (not general or in_general < share(general_limit, self._replicas))
        )
        added = granted and lease_id not in held
        return SlotGrant(granted, len(held) + added, in_general + (added and general))
