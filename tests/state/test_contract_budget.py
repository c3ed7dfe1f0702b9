"""Contract: budgets reserved at admission, settled at completion, per UTC day or month."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.state.store import Budget, Store
from tests.state.fakes import FakeClock, make_record

DAY = Budget(limit_nano=10_000, period="day")


async def test_reservations_admit_while_spent_plus_reserved_fits(store: Store) -> None:
    first = await store.reserve_budget("acme", "r1", 6_000, DAY)
    assert first.allowed
    assert (first.spent_nano, first.reserved_nano, first.remaining_nano) == (0, 6_000, 4_000)

    refused = await store.reserve_budget("acme", "r2", 5_000, DAY)
    assert not refused.allowed and refused.reserved_nano == 6_000
    assert refused.retry_after_s == 1.0  # blocked by in-flight reservations, not by spend

    last = await store.reserve_budget("acme", "r3", 4_000, DAY)
    assert last.allowed and last.remaining_nano == 0


async def test_reserving_again_for_the_same_request_changes_nothing(store: Store) -> None:
    await store.reserve_budget("acme", "r1", 6_000, DAY)
    again = await store.reserve_budget("acme", "r1", 6_000, DAY)
    assert again.allowed and again.reserved_nano == 6_000


async def test_settle_replaces_the_reservation_with_the_actual_charge(store: Store) -> None:
    await store.reserve_budget("acme", "r1", 6_000, DAY)
    await store.reserve_budget("acme", "r2", 4_000, DAY)
    assert await store.settle(make_record("r1", charge_nano=2_000))
    after = await store.reserve_budget("acme", "r3", 4_000, DAY)
    assert after.allowed
    assert (after.spent_nano, after.reserved_nano) == (2_000, 8_000)


async def test_release_frees_a_reservation_without_charging(store: Store) -> None:
    await store.reserve_budget("acme", "r1", 10_000, DAY)
    await store.release_budget("acme", "r1")
    await store.release_budget("acme", "r1")  # idempotent
    d = await store.reserve_budget("acme", "r2", 10_000, DAY)
    assert d.allowed and d.spent_nano == 0


async def test_budgets_are_per_tenant(store: Store) -> None:
    await store.reserve_budget("acme", "r1", 10_000, DAY)
    assert (await store.reserve_budget("globex", "r2", 10_000, DAY)).allowed


async def test_spend_resets_at_utc_midnight(store: Store, clock: FakeClock) -> None:
    clock.now = datetime(2025, 1, 15, 23, 59, 50, tzinfo=UTC).timestamp()
    midnight = datetime(2025, 1, 16, tzinfo=UTC).timestamp()
    assert await store.settle(make_record("r1", ts=clock.now, charge_nano=10_000))

    spent_out = await store.reserve_budget("acme", "r2", 1, DAY)
    assert not spent_out.allowed
    assert spent_out.spent_nano == 10_000
    assert spent_out.resets_at == midnight and spent_out.retry_after_s == 10.0

    clock.advance(20)
    fresh = await store.reserve_budget("acme", "r3", 10_000, DAY)
    assert fresh.allowed and fresh.spent_nano == 0


async def test_a_monthly_budget_counts_every_day_of_the_month(
    store: Store, clock: FakeClock
) -> None:
    month = Budget(limit_nano=10_000, period="month")
    clock.now = datetime(2025, 1, 30, 12, tzinfo=UTC).timestamp()
    assert await store.settle(make_record("r1", ts=clock.now, charge_nano=9_000))
    clock.advance(86_400)  # Jan 31: a new day, the same month
    d = await store.reserve_budget("acme", "r2", 2_000, month)
    assert not d.allowed and d.spent_nano == 9_000
    assert d.resets_at == datetime(2025, 2, 1, tzinfo=UTC).timestamp()
    clock.advance(86_400)  # Feb 1
    assert (await store.reserve_budget("acme", "r3", 10_000, month)).allowed


async def test_a_settle_is_charged_to_the_period_of_its_record(
    store: Store, clock: FakeClock
) -> None:
    # A record replayed after midnight still belongs to the day it finished in.
    yesterday = clock.now
    clock.advance(86_400)
    assert await store.settle(make_record("r1", ts=yesterday, charge_nano=10_000))
    assert (await store.reserve_budget("acme", "r2", 10_000, DAY)).allowed


async def test_a_reservation_lapses_when_its_replica_never_settles(
    store: Store, clock: FakeClock
) -> None:
    assert (await store.reserve_budget("acme", "r1", 10_000, DAY)).allowed
    assert not (await store.reserve_budget("acme", "r2", 1, DAY)).allowed
    clock.advance(900)  # reservation_ttl_s
    d = await store.reserve_budget("acme", "r2", 10_000, DAY)
    assert d.allowed and d.reserved_nano == 10_000
