"""The in-process Store (the default): the same contract as Redis, decided in plain dicts.

Nothing awaits inside a call, so each call is atomic on the event loop without locks. Also the
engine of ``RedisStore``'s degraded mode. Settle markers live as long as the raw records
(``max_records`` FIFO, and ``settle_marker_ttl_s``): enough for a duplicate settle racing the
first one, which is the only way one process can settle twice.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence

from gateway.metering.record import UsageRecord
from gateway.state.gcra import gcra_step
from gateway.state.memory_ledger import MemoryLedger
from gateway.state.periods import DAY_S, period_end, period_id, previous_period_id
from gateway.state.report import build_report
from gateway.state.store import (
    Budget,
    BudgetDecision,
    Clock,
    RateDecision,
    RateLimits,
    SlotGrant,
    SlotListener,
    StoreStatus,
    check_amount,
)
from gateway.state.usage import UsageFilter, UsageReport

US = 1_000_000


class MemoryStore:
    """One process's Store. Slot leases never lapse here: a process cannot outlive itself."""

    def __init__(
        self,
        *,
        clock: Clock = time.time,
        max_records: int = 100_000,
        settle_marker_ttl_s: float = 7 * 86400,
        reservation_ttl_s: float = 900.0,
    ) -> None:
        self._clock = clock
        self._marker_ttl_us = int(settle_marker_ttl_s * US)
        self._reservation_ttl_us = int(reservation_ttl_s * US)
        self._max_markers = max(max_records, 1)
        self._tats: dict[str, tuple[int, int]] = {}
        self._spent: dict[tuple[str, str], int] = {}  # (tenant, period id) -> nano-USD
        self._pruned_day = -1
        # per tenant: request_id -> (amount, expiry µs); insertion order is expiry order
        self._reservations: dict[str, OrderedDict[str, tuple[int, int]]] = {}
        self._reserved_total: dict[str, int] = {}
        self._markers: OrderedDict[str, int] = OrderedDict()  # request_id -> expiry µs
        self._ledger = MemoryLedger(max_records)
        self._leases: dict[str, dict[str, bool]] = {}  # backend -> lease_id -> general
        self._general: dict[str, int] = {}
        self._listeners: list[SlotListener] = []

    def _prune_daily(self, now: float) -> None:
        """Once a day: drop spend of periods no budget can ask about and full rate buckets."""
        day = int(now // DAY_S)
        if day == self._pruned_day:
            return
        self._pruned_day = day
        keep = {f(p, now) for p in ("day", "month") for f in (period_id, previous_period_id)}
        self._spent = {k: v for k, v in self._spent.items() if k[1] in keep}
        now_us = int(now * US)
        self._tats = {k: t for k, t in self._tats.items() if max(t) > now_us}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    # admission
    async def check_rate(self, key_id: str, limits: RateLimits, tokens: int) -> RateDecision:
        check_amount("tokens", tokens)
        now = self._clock()
        self._prune_daily(now)
        old = self._tats.get(key_id, (0, 0))
        step = gcra_step(int(now * US), limits, tokens, old)
        if step.decision.allowed and (limits.rpm or limits.tpm):
            # A limit not set on this call keeps its state, as its Redis key does.
            req, tok = step.tats
            self._tats[key_id] = (old[0] if req is None else req, old[1] if tok is None else tok)
        return step.decision

    async def reserve_budget(
        self, tenant: str, request_id: str, amount_nano: int, budget: Budget
    ) -> BudgetDecision:
        check_amount("amount_nano", amount_nano)
        now = self._clock()
        now_us = int(now * US)
        self._prune_daily(now)
        held = self._reservations.setdefault(tenant, OrderedDict())
        while held:
            first_id, (amount, expiry) = next(iter(held.items()))
            if expiry > now_us:
                break
            del held[first_id]
            self._reserved_total[tenant] -= amount
        spent = self._spent.get((tenant, period_id(budget.period, now)), 0)
        reserved = self._reserved_total.get(tenant, 0)
        allowed = request_id in held or spent + reserved + amount_nano <= budget.limit_nano
        if allowed and request_id not in held:
            held[request_id] = (amount_nano, now_us + self._reservation_ttl_us)
            reserved += amount_nano
            self._reserved_total[tenant] = reserved
        return budget_decision(
            budget, now, allowed=allowed, spent=spent, reserved=reserved, amount=amount_nano
        )

    async def release_budget(self, tenant: str, request_id: str) -> None:
        self._release(tenant, request_id)

    def _release(self, tenant: str, request_id: str) -> None:
        held = self._reservations.get(tenant)
        if held is not None and request_id in held:
            amount, _ = held.pop(request_id)
            self._reserved_total[tenant] -= amount

    async def settle(self, record: UsageRecord) -> bool:
        now = self._clock()
        now_us = int(now * US)
        markers = self._markers
        while markers and (
            len(markers) >= self._max_markers or next(iter(markers.values())) <= now_us
        ):
            markers.popitem(last=False)
        if record.request_id in markers:
            return False
        markers[record.request_id] = now_us + self._marker_ttl_us
        self._release(record.tenant, record.request_id)
        for period in ("day", "month"):
            key = (record.tenant, period_id(period, record.ts))
            self._spent[key] = self._spent.get(key, 0) + record.charge_nano
        self._ledger.add(record)
        return True

    # slots
    async def acquire_slot(
        self, backend: str, lease_id: str, *, general: bool, capacity: int, general_limit: int
    ) -> SlotGrant:
        leases = self._leases.setdefault(backend, {})
        in_general = self._general.get(backend, 0)
        granted = lease_id in leases or (
            len(leases) < capacity and (not general or in_general < general_limit)
        )
        if granted and lease_id not in leases:
            leases[lease_id] = general
            in_general += general
            self._general[backend] = in_general
        return SlotGrant(granted, len(leases), in_general)

    async def release_slot(self, backend: str, lease_id: str) -> None:
        leases = self._leases.get(backend, {})
        if lease_id not in leases:
            return
        if leases.pop(lease_id):
            self._general[backend] -= 1
        for listener in list(self._listeners):
            listener(backend)

    async def renew_leases(self) -> None:
        return None

    def on_slot_released(self, listener: SlotListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    # reporting
    async def usage_report(self, filters: UsageFilter, group_by: Sequence[str]) -> UsageReport:
        return await build_report(self._ledger, filters, group_by)

    async def export_records(self, filters: UsageFilter) -> AsyncIterator[UsageRecord]:
        for record in self._ledger.records(filters):
            yield record

    def status(self) -> StoreStatus:
        return StoreStatus(kind="memory", state="healthy")


def budget_decision(
    budget: Budget, now: float, *, allowed: bool, spent: int, reserved: int, amount: int
) -> BudgetDecision:
    """Shared by both stores. Retry-After: the period's end when spend alone blocks, otherwise
    a second, since in-flight reservations usually settle for less than they reserved."""
    resets_at = period_end(budget.period, now)
    if allowed:
        retry = 0.0
    elif spent + amount > budget.limit_nano:
        retry = max(0.0, resets_at - now)
    else:
        retry = 1.0
    return BudgetDecision(allowed, budget.limit_nano, spent, reserved, resets_at, retry)
