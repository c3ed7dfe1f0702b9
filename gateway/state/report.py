"""The admin usage report, assembled the same way over either store's usage ledger.

Usage is kept per tenant in hour and day buckets of record.ts (both written by every settle).
A report reads whole days from day buckets, whole hours from hour buckets, and filters the raw
records of the at most two hours cut by ``since``/``until``, so it is exact at any second.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from gateway.metering.record import UsageRecord
from gateway.state.periods import DAY_S, HOUR_S, hour_of
from gateway.state.usage import (
    Group,
    ReportGroup,
    UsageFilter,
    UsageReport,
    UsageTotals,
    check_group_by,
    record_group,
    record_metrics,
)


class UsageLedger(Protocol):
    """Where a store keeps usage: buckets of (tier, model, backend) -> metrics, per tenant."""

    async def tenants(self) -> list[str]: ...

    async def hours(self, tenant: str, first: int | None, last: int | None) -> list[int]:
        """Hour indexes with usage in [first, last] (None = unbounded)."""
        ...

    async def bucket_rows(
        self, tenant: str, days: Sequence[int], hours: Sequence[int]
    ) -> list[tuple[Group, Sequence[int]]]:
        """Metrics rows of the given day and hour buckets (a group may appear several times)."""
        ...

    async def hour_records(self, tenant: str, hour: int) -> list[UsageRecord]:
        """Raw records of one hour still retained."""
        ...


@dataclass(frozen=True, slots=True)
class BucketPlan:
    days: tuple[int, ...]  # whole UTC days inside [since, until)
    hours: tuple[int, ...]  # whole hours inside, not covered by those days
    partial_hours: tuple[int, ...]  # hours cut by since or until: filter their raw records


def plan_buckets(since: float | None, until: float | None, hours: Sequence[int]) -> BucketPlan:
    """Cover [since, until) with the fewest buckets, given the hours that hold usage."""
    lo = -float("inf") if since is None else since
    hi = float("inf") if until is None else until
    whole: list[int] = []
    partial: list[int] = []
    for hour in sorted(set(hours)):
        start, end = hour * HOUR_S, (hour + 1) * HOUR_S
        if end <= lo or start >= hi:
            continue
        (whole if start >= lo and end <= hi else partial).append(hour)
    hours_per_day = DAY_S // HOUR_S
    candidates = {h // hours_per_day for h in whole}
    days = sorted(d for d in candidates if d * DAY_S >= lo and (d + 1) * DAY_S <= hi)
    day_set = set(days)
    rest = [h for h in whole if h // hours_per_day not in day_set]
    return BucketPlan(tuple(days), tuple(rest), tuple(partial))


async def build_report(
    ledger: UsageLedger, filters: UsageFilter, group_by: Sequence[str]
) -> UsageReport:
    fields = check_group_by(group_by)
    groups: dict[tuple[str | None, ...], UsageTotals] = {}
    total = UsageTotals()
    exact = True

    def add(tenant: str, group: Group, values: Sequence[int]) -> None:
        tier, model, backend = group
        named = {"tenant": tenant, "tier": tier, "model": model, "backend": backend}
        key = tuple(named[f] for f in fields)
        groups.setdefault(key, UsageTotals()).add(values)
        total.add(values)

    tenants = [filters.tenant] if filters.tenant is not None else await ledger.tenants()
    first = None if filters.since is None else hour_of(filters.since)
    last = None if filters.until is None else hour_of(filters.until)
    for tenant in sorted(tenants):
        plan = plan_buckets(filters.since, filters.until, await ledger.hours(tenant, first, last))
        for group, values in await ledger.bucket_rows(tenant, plan.days, plan.hours):
            if filters.admits_group(group):
                add(tenant, group, values)
        for hour in plan.partial_hours:
            records = await ledger.hour_records(tenant, hour)
            counted = sum(v[0] for _, v in await ledger.bucket_rows(tenant, (), (hour,)))
            exact = exact and counted == len(records)
            for record in records:
                if filters.admits(record):
                    add(tenant, record_group(record), record_metrics(record))

    ordered = sorted(groups.items(), key=lambda kv: [(v is None, v or "") for v in kv[0]])
    return UsageReport(
        total=total,
        groups=tuple(ReportGroup(dict(zip(fields, k, strict=True)), t) for k, t in ordered),
        exact=exact,
    )
