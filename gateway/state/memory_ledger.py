"""Usage kept in process memory: hour and day buckets per tenant, plus the newest raw records.

Buckets are never dropped (about 0.3 KB per tenant x group x hour with usage, so 10 tenants with
3 groups each cost ~80 MB over a year); raw records are bounded FIFO (``max_records``, about
0.7 KB each) and only serve exports and the edge hours of a report.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence

from gateway.metering.record import UsageRecord
from gateway.state.periods import hour_of
from gateway.state.usage import Group, UsageFilter, record_group, record_metrics

Buckets = dict[Group, list[int]]


class MemoryLedger:
    """Implements ``UsageLedger`` without I/O."""

    def __init__(self, max_records: int) -> None:
        if max_records < 0:
            raise ValueError("max_records must be >= 0")
        self._max_records = max_records
        self._hours: dict[str, set[int]] = {}
        self._hour_buckets: dict[tuple[str, int], Buckets] = {}
        self._day_buckets: dict[tuple[str, int], Buckets] = {}
        self._raw: deque[UsageRecord] = deque()
        self._raw_by_hour: dict[tuple[str, int], deque[UsageRecord]] = {}

    def add(self, record: UsageRecord) -> None:
        hour = hour_of(record.ts)
        values = record_metrics(record)
        group = record_group(record)
        self._hours.setdefault(record.tenant, set()).add(hour)
        for buckets in (
            self._hour_buckets.setdefault((record.tenant, hour), {}),
            self._day_buckets.setdefault((record.tenant, hour // 24), {}),
        ):
            row = buckets.get(group)
            if row is None:
                buckets[group] = list(values)
            else:
                for i, v in enumerate(values):
                    row[i] += v
        if self._max_records == 0:
            return
        self._raw.append(record)
        self._raw_by_hour.setdefault((record.tenant, hour), deque()).append(record)
        if len(self._raw) > self._max_records:
            # The globally oldest record is also the oldest of its own hour list.
            old = self._raw.popleft()
            key = (old.tenant, hour_of(old.ts))
            same_hour = self._raw_by_hour[key]
            same_hour.popleft()
            if not same_hour:
                del self._raw_by_hour[key]

    def records(self, filters: UsageFilter) -> Iterator[UsageRecord]:
        return (r for r in list(self._raw) if filters.admits(r))

    # UsageLedger
    async def tenants(self) -> list[str]:
        return list(self._hours)

    async def hours(self, tenant: str, first: int | None, last: int | None) -> list[int]:
        return sorted(
            h
            for h in self._hours.get(tenant, ())
            if (first is None or h >= first) and (last is None or h <= last)
        )

    async def bucket_rows(
        self, tenant: str, days: Sequence[int], hours: Sequence[int]
    ) -> list[tuple[Group, Sequence[int]]]:
        rows: list[tuple[Group, Sequence[int]]] = []
        for source, ids in ((self._day_buckets, days), (self._hour_buckets, hours)):
            for bucket in ids:
                rows.extend(source.get((tenant, bucket), {}).items())
        return rows

    async def hour_records(self, tenant: str, hour: int) -> list[UsageRecord]:
        return list(self._raw_by_hour.get((tenant, hour), ()))
