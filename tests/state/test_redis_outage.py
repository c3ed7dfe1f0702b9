"""Redis goes away: the store keeps deciding locally, spools usage, and replays it exactly once."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from redis.exceptions import ConnectionError

from gateway.metering.record import UsageRecord
from gateway.state.config import StateConfig
from gateway.state.redis_store import RedisStore
from gateway.state.store import Budget, RateLimits
from gateway.state.usage import UsageFilter
from tests.fixtures.redis_server import RedisServer
from tests.state.fakes import make_record
from tests.state.redis_setup import redis_config, stop_redis_saving
from tests.state.waiting import wait_for

pytestmark = pytest.mark.redis


@pytest.fixture
def config(own_redis: RedisServer, tmp_path: Path) -> StateConfig:
    return redis_config(own_redis.url, tmp_path, replay_batch=10, replicas=2)


@pytest.fixture
async def store(config: StateConfig) -> AsyncIterator[RedisStore]:
    store = RedisStore(config)
    await store.start()
    yield store
    await store.close()


def records(start: int, stop: int) -> list[UsageRecord]:
    now = time.time()  # a real clock here: records must be inside the usage retention
    return [
        make_record(f"r{i}", ts=now, charge_nano=1_000 + i, tenant=("a", "b")[i % 2])
        for i in range(start, stop)
    ]


async def settled_requests_and_charge(store: RedisStore) -> tuple[int, int]:
    total = (await store.usage_report(UsageFilter(), [])).total
    return total["requests"], total["charge_nano"]


def expected(rs: Sequence[UsageRecord]) -> tuple[int, int]:
    return len(rs), sum(r.charge_nano for r in rs)


async def recovered(store: RedisStore) -> None:
    def done() -> bool:
        status = store.status()
        return status.healthy and status.spooled == 0

    await wait_for(done, within=10, what="recovery and replay")


async def test_usage_settled_during_an_outage_is_replayed_exactly_once(
    store: RedisStore, own_redis: RedisServer
) -> None:
    before, during, after = records(0, 20), records(20, 50), records(50, 60)
    for r in before:
        assert await store.settle(r)
    await stop_redis_saving(own_redis)

    for r in during:
        assert await store.settle(r)
    assert not await store.settle(during[3])  # a duplicate within the outage is caught locally
    assert await store.settle(before[5])  # settled before it: only Redis knows; spooled too
    status = store.status()
    assert status.state == "degraded" and status.spooled == 31
    assert status.last_error is not None and status.degraded_since is not None

    own_redis.start()
    await recovered(store)
    for r in after:
        assert await store.settle(r)
    assert await settled_requests_and_charge(store) == expected(before + during + after)


async def test_admission_keeps_working_on_local_shares_while_redis_is_down(
    store: RedisStore, own_redis: RedisServer
) -> None:
    await stop_redis_saving(own_redis)
    limits = RateLimits(rpm=4)  # two replicas: this one may admit 2 per minute alone
    decisions = [await store.check_rate("k", limits, 0) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert decisions[0].limit_requests == 2

    budget = Budget(limit_nano=10_000, period="month")
    assert (await store.reserve_budget("acme", "r1", 5_000, budget)).allowed
    assert not (await store.reserve_budget("acme", "r2", 1, budget)).allowed

    grants = [
        await store.acquire_slot("gpu-a", f"l{i}", general=True, capacity=5, general_limit=5)
        for i in range(4)
    ]
    assert [g.granted for g in grants] == [True, True, True, False]  # ceil(5 / 2)
    assert store.status().state == "degraded"


async def test_a_replay_interrupted_half_way_counts_each_record_once(
    store: RedisStore, own_redis: RedisServer
) -> None:
    before, during = records(0, 5), records(5, 45)
    for r in before:
        assert await store.settle(r)
    await stop_redis_saving(own_redis)
    for r in during:
        assert await store.settle(r)

    # The second replayed batch loses Redis after half of it was applied, before its commit.
    real = store._settle_many
    batches: list[list[bool]] = []

    async def flaky(batch: Sequence[UsageRecord]) -> list[bool]:
        if len(batches) == 1:
            batches.append(await real(batch[: len(batch) // 2]))
            raise ConnectionError("connection lost mid-batch")
        batches.append(await real(batch))
        return batches[-1]

    store._settle_many = flaky  # type: ignore[method-assign,assignment]
    own_redis.start()
    await recovered(store)

    assert batches[1] == [True] * 5  # applied, then the batch failed uncommitted
    assert batches[2][:5] == [False] * 5  # replayed again: the settle markers held
    assert await settled_requests_and_charge(store) == expected(before + during)


async def test_a_spool_left_by_a_crashed_replica_is_replayed_on_start(
    config: StateConfig, own_redis: RedisServer
) -> None:
    first = RedisStore(config)
    await first.start()
    await stop_redis_saving(own_redis)
    during = records(0, 30)
    for r in during:
        assert await first.settle(r)
    await first.close()  # the spool stays on disk, its offset still at 0

    own_redis.start()
    # A previous replay applied the first 12 and died before committing its progress.
    helper_config = config.model_copy(update={"spool_path": config.spool_path.with_suffix(".x")})
    helper = RedisStore(helper_config)
    await helper.start()
    for r in during[:12]:
        assert await helper.settle(r)
    await helper.close()

    second = RedisStore(config)
    await second.start()
    try:
        await recovered(second)
        assert await settled_requests_and_charge(second) == expected(during)
        assert not config.spool_path.stat().st_size  # truncated once replayed
    finally:
        await second.close()


async def test_a_store_started_while_redis_is_down_serves_and_recovers(
    config: StateConfig, own_redis: RedisServer
) -> None:
    await stop_redis_saving(own_redis)
    store = RedisStore(config)
    await store.start()
    try:
        assert store.status().state == "degraded"
        assert await store.settle(make_record("r1", ts=time.time()))
        own_redis.start()
        await recovered(store)
        assert await settled_requests_and_charge(store) == (1, 1_000)
    finally:
        await store.close()
