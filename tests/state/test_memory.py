"""What only the memory store promises: bounded raw records, exact totals regardless."""

from __future__ import annotations

from gateway.state.memory import MemoryStore
from gateway.state.usage import UsageFilter
from tests.state.fakes import T0, FakeClock, make_record


async def test_totals_stay_exact_when_raw_records_are_evicted() -> None:
    store = MemoryStore(clock=FakeClock(), max_records=10)
    records = [make_record(f"r{i}", ts=T0 + i * 60, charge_nano=7 * i) for i in range(50)]
    for r in records:
        assert await store.settle(r)
    report = await store.usage_report(UsageFilter(), ["tenant"])
    assert report.exact
    assert report.total["requests"] == 50
    assert report.total["charge_nano"] == sum(r.charge_nano for r in records)
    exported = [r.request_id async for r in store.export_records(UsageFilter())]
    assert exported == [f"r{i}" for i in range(40, 50)]  # the newest ten


async def test_a_cut_hour_without_its_raw_records_is_reported_as_inexact() -> None:
    store = MemoryStore(clock=FakeClock(), max_records=10)
    for i in range(50):
        await store.settle(make_record(f"r{i}", ts=T0 + i * 60))
    report = await store.usage_report(UsageFilter(since=T0 + 30), [])
    assert not report.exact  # the first minutes of that hour are gone from memory


async def test_status_is_always_healthy() -> None:
    status = MemoryStore().status()
    assert (status.kind, status.healthy, status.spooled) == ("memory", True, 0)
