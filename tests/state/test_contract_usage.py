"""Contract: settle once per request id; reports and exports equal the sum of what was settled."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from gateway.metering.record import UsageRecord
from gateway.state.store import Store
from gateway.state.usage import UsageFilter
from tests.state.fakes import T0, make_record

HOUR = 3600.0


def mixed_records() -> list[UsageRecord]:
    """Three tenants, two tiers, two models, a record with no backend, over two days."""
    out = []
    for i in range(40):
        out.append(
            make_record(
                f"r{i}",
                tenant=("acme", "globex", "initech")[i % 3],
                tier=("fast", "batch")[i % 2],
                model=("llama-8b", "llama-70b")[(i // 2) % 2],
                backend=None if i == 7 else ("gpu-a", "gpu-b")[(i // 3) % 2],
                ts=T0 + i * 1234.5,  # spans ~13.7 hours
                prompt_tokens=100 + i,
                cached_tokens=i,
                completion_tokens=10 * i,
                charge_nano=1_000_003 * i,
                gpu_cost_nano=333_337 * i,
                gpu_seconds=0.0101 * i,
            )
        )
    return out


def summed(records: Iterable[UsageRecord]) -> dict[str, int]:
    rs = list(records)
    return {
        "requests": len(rs),
        "prompt_tokens": sum(r.prompt_tokens for r in rs),
        "cached_tokens": sum(r.cached_tokens for r in rs),
        "completion_tokens": sum(r.completion_tokens for r in rs),
        "charge_nano": sum(r.charge_nano for r in rs),
        "gpu_cost_nano": sum(r.gpu_cost_nano for r in rs),
    }


def integer_part(totals_json: dict[str, object]) -> dict[str, object]:
    return {k: totals_json[k] for k in summed([])}


async def settle_all(store: Store, records: Iterable[UsageRecord]) -> None:
    for r in records:
        assert await store.settle(r)


async def test_settling_the_same_record_twice_counts_once(store: Store) -> None:
    record = make_record("r1", charge_nano=5_000)
    assert await store.settle(record)
    assert not await store.settle(record)
    report = await store.usage_report(UsageFilter(), [])
    assert integer_part(report.total.to_json()) == summed([record])


async def test_report_total_and_groups_equal_the_sum_of_records(store: Store) -> None:
    records = mixed_records()
    await settle_all(store, records)
    report = await store.usage_report(UsageFilter(), ["tenant", "backend"])
    assert report.exact
    assert integer_part(report.total.to_json()) == summed(records)
    by_group = {(g.key["tenant"], g.key["backend"]): g for g in report.groups}
    assert set(by_group) == {(r.tenant, r.backend) for r in records}
    for (tenant, backend), group in by_group.items():
        mine = [r for r in records if r.tenant == tenant and r.backend == backend]
        assert integer_part(group.totals.to_json()) == summed(mine)
    assert list(report.groups[0].key) == ["tenant", "backend"]


@pytest.mark.parametrize(
    "filters",
    [
        UsageFilter(tenant="globex"),
        UsageFilter(tier="batch"),
        UsageFilter(model="llama-70b", tier="fast"),
        UsageFilter(since=T0 + 2.5 * HOUR),  # cuts an hour: its raw records are filtered
        UsageFilter(until=T0 + 5.25 * HOUR),
        UsageFilter(since=T0 + 0.5 * HOUR, until=T0 + 12 * HOUR + 1),
        UsageFilter(since=T0 - 12 * HOUR, until=T0 + 36 * HOUR),  # whole day buckets
        UsageFilter(tenant="acme", since=T0 + 3 * HOUR, until=T0 + 3 * HOUR),  # empty
        UsageFilter(tenant="nobody"),
    ],
)
async def test_report_filters_select_exactly_the_matching_records(
    store: Store, filters: UsageFilter
) -> None:
    records = mixed_records()
    await settle_all(store, records)
    report = await store.usage_report(filters, ["tier", "model"])
    assert report.exact
    assert integer_part(report.total.to_json()) == summed(r for r in records if filters.admits(r))
    for group in report.groups:
        mine = [
            r
            for r in records
            if filters.admits(r) and (r.tier, r.model) == (group.key["tier"], group.key["model"])
        ]
        assert integer_part(group.totals.to_json()) == summed(mine)


async def test_report_json_carries_money_cost_per_mtok_and_margin(store: Store) -> None:
    await settle_all(
        store,
        [
            make_record(
                "r1",
                prompt_tokens=1_500,
                cached_tokens=500,
                completion_tokens=500,
                charge_nano=3_000_000,
                gpu_cost_nano=2_000_000,
                gpu_seconds=0.25,
            ),
            make_record(
                "r2",
                backend=None,
                prompt_tokens=0,
                completion_tokens=0,
                charge_nano=0,
                gpu_cost_nano=0,
                gpu_seconds=0.0,
            ),
        ],
    )
    body = (await store.usage_report(UsageFilter(), ["backend"])).to_json()
    assert set(body) == {"total", "groups", "exact"}
    total = body["total"]
    assert total["charge_usd"] == 0.003 and total["gpu_cost_usd"] == 0.002
    assert total["cost_per_mtok_usd"] == 1.0  # $0.002 over 2,000 tokens
    assert total["margin_usd"] == 0.001 and total["gpu_seconds"] == 0.25
    assert [g["backend"] for g in body["groups"]] == ["gpu-a", None]
    assert body["groups"][1]["cost_per_mtok_usd"] is None  # no tokens, no per-token cost


async def test_group_by_rejects_unknown_fields(store: Store) -> None:
    with pytest.raises(ValueError, match="group_by"):
        await store.usage_report(UsageFilter(), ["tenant", "colour"])


async def test_export_yields_the_settled_records_that_match(store: Store) -> None:
    records = mixed_records()
    await settle_all(store, records)
    assert not await store.settle(records[3])
    exported = [r async for r in store.export_records(UsageFilter())]
    assert sorted(r.request_id for r in exported) == sorted(r.request_id for r in records)
    assert {r.request_id: r for r in exported}["r5"] == records[5]  # round-trips exactly
    since = UsageFilter(tenant="acme", since=T0 + 6 * HOUR)
    picked = [r.request_id async for r in store.export_records(since)]
    assert sorted(picked) == sorted(r.request_id for r in records if since.admits(r))
