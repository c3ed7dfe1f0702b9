"""Usage in Redis: the arguments of ``settle.lua`` and the reads behind reports and exports.

Per tenant (one hash tag): hour and day aggregate hashes with fields ``metric|["tier","model",
"backend"]``, an index of hours with usage, each hour's raw records (a list, kept
``records_retention_s``) and a usage stream for consumers. ``{ns}:tenants`` lists tenants.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Sequence
from typing import Any

from redis.asyncio import Redis

from gateway.metering.record import UsageRecord
from gateway.state.keys import KeySpace
from gateway.state.periods import DAY_S, HOUR_S, hour_of, period_end, period_id
from gateway.state.usage import (
    METRIC_INDEX,
    METRICS,
    Group,
    UsageFilter,
    record_group,
    record_json,
    record_metrics,
)

_LRANGE_CHUNK = 1000


def group_field(group: Group) -> str:
    return json.dumps(list(group), separators=(",", ":"))


class RedisUsage:
    """Implements ``UsageLedger`` over Redis, and builds settle calls."""

    def __init__(
        self,
        client: Redis,
        keys: KeySpace,
        *,
        marker_ttl_s: float,
        records_retention_s: float,
        aggregates_retention_s: float,
        stream_maxlen: int,
    ) -> None:
        self._client = client
        self._keys = keys
        self._marker_ttl = math.ceil(marker_ttl_s)
        self._records_ttl = math.ceil(records_retention_s)
        self._aggregates_ttl = math.ceil(aggregates_retention_s)
        self._stream_maxlen = stream_maxlen

    def settle_call(self, record: UsageRecord, now: float) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of settle.lua for one record (periods and buckets from record.ts)."""
        k, t = self._keys, record.tenant
        hour = hour_of(record.ts)
        amounts, expiries, total = k.reservations(t)
        keys = [
            k.settled(t, record.request_id),
            amounts,
            expiries,
            total,
            k.spent(t, period_id("day", record.ts)),
            k.spent(t, period_id("month", record.ts)),
            k.hour_usage(t, hour),
            k.day_usage(t, hour // 24),
            k.usage_hours(t),
            k.hour_records(t, hour),
            k.events(t),
        ]
        # A spend key must outlive its period by a day; a replayed old record still gets a day.
        day_ttl = math.ceil(max(0.0, period_end("day", record.ts) - now)) + DAY_S
        month_ttl = math.ceil(max(0.0, period_end("month", record.ts) - now)) + DAY_S
        oldest_hour = hour_of(now) - self._aggregates_ttl // HOUR_S
        args: list[Any] = [
            record.request_id,
            record_json(record),
            record.charge_nano,
            self._marker_ttl,
            day_ttl,
            month_ttl,
            self._aggregates_ttl,
            self._records_ttl,
            self._stream_maxlen,
            hour,
            oldest_hour,
        ]
        field = group_field(record_group(record))
        for name, value in zip(METRICS, record_metrics(record), strict=True):
            if value:
                args += [f"{name}|{field}", value]
        return keys, args

    # UsageLedger
    async def tenants(self) -> list[str]:
        members = await self._client.smembers(self._keys.tenants())
        return [m.decode() if isinstance(m, bytes) else m for m in members]

    async def hours(self, tenant: str, first: int | None, last: int | None) -> list[int]:
        found = await self._client.zrangebyscore(
            self._keys.usage_hours(tenant),
            "-inf" if first is None else first,
            "+inf" if last is None else last,
        )
        return [int(h) for h in found]

    async def bucket_rows(
        self, tenant: str, days: Sequence[int], hours: Sequence[int]
    ) -> list[tuple[Group, Sequence[int]]]:
        if not days and not hours:
            return []
        pipe = self._client.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(self._keys.day_usage(tenant, day))
        for hour in hours:
            pipe.hgetall(self._keys.hour_usage(tenant, hour))
        rows: dict[Group, list[int]] = {}
        buckets: list[dict[bytes, bytes]] = await pipe.execute()
        for bucket in buckets:
            for raw_field, raw_value in bucket.items():
                name, _, group_json = _text(raw_field).partition("|")
                tier, model, backend = json.loads(group_json)
                row = rows.setdefault((tier, model, backend), [0] * len(METRICS))
                row[METRIC_INDEX[name]] += int(raw_value)
        return list(rows.items())

    async def hour_records(self, tenant: str, hour: int) -> list[UsageRecord]:
        return [r async for r in self._hour_records(tenant, hour)]

    async def _hour_records(self, tenant: str, hour: int) -> AsyncIterator[UsageRecord]:
        key = self._keys.hour_records(tenant, hour)
        start = 0
        while True:
            chunk = await self._client.lrange(key, start, start + _LRANGE_CHUNK - 1)
            for raw in chunk:
                yield UsageRecord.from_json(json.loads(raw))
            if len(chunk) < _LRANGE_CHUNK:
                return
            start += _LRANGE_CHUNK

    async def export(self, filters: UsageFilter) -> AsyncIterator[UsageRecord]:
        tenants = [filters.tenant] if filters.tenant is not None else await self.tenants()
        first = None if filters.since is None else hour_of(filters.since)
        last = None if filters.until is None else hour_of(filters.until)
        for tenant in sorted(tenants):
            for hour in await self.hours(tenant, first, last):
                async for record in self._hour_records(tenant, hour):
                    if filters.admits(record):
                        yield record


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
