"""Several replicas on one Redis: atomic budgets and slots, lease expiry, wake-ups, Lua = Python."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from gateway.state.keys import KeySpace
from gateway.state.memory import MemoryStore
from gateway.state.redis_store import RedisStore
from gateway.state.store import Budget, Clock, RateLimits
from tests.fixtures.redis_server import RedisServer
from tests.state.fakes import FakeClock, make_record
from tests.state.redis_setup import redis_config
from tests.state.waiting import wait_for

pytestmark = pytest.mark.redis

Replicas = Callable[..., Awaitable[list[RedisStore]]]


@pytest.fixture
async def replicas(redis_server: RedisServer, tmp_path: Path) -> AsyncIterator[Replicas]:
    """``await replicas(n, clock=...)``: n started stores sharing one namespace."""
    started: list[RedisStore] = []

    async def build(n: int, *, clock: Clock | None = None, **overrides: Any) -> list[RedisStore]:
        base = redis_config(redis_server.url, tmp_path, **overrides)
        for i in range(n):
            spool = tmp_path / f"replica-{len(started)}-{i}.spool"
            store = RedisStore(base.model_copy(update={"spool_path": spool}), clock=clock)
            await store.start()
            started.append(store)
        return started[-n:]

    yield build
    for store in started:
        await store.close()


async def test_fifty_concurrent_reservations_from_two_replicas_grant_exactly_ten(
    replicas: Replicas,
) -> None:
    a, b = await replicas(2)
    budget = Budget(limit_nano=10_000, period="month")
    decisions = await asyncio.gather(
        *((a if i % 2 else b).reserve_budget("acme", f"r{i}", 1_000, budget) for i in range(50))
    )
    assert sum(d.allowed for d in decisions) == 10
    assert max(d.reserved_nano for d in decisions) == 10_000


async def test_two_replicas_never_lease_more_than_capacity(replicas: Replicas) -> None:
    a, b = await replicas(2)

    async def one(i: int) -> bool:
        store = a if i % 2 else b
        grant = await store.acquire_slot(
            "gpu-a", f"l{i}", general=i % 3 != 0, capacity=5, general_limit=4
        )
        assert grant.in_use <= 5 and grant.general_in_use <= 4
        if grant.granted:
            await store.release_slot("gpu-a", f"l{i}")
        return grant.granted

    first = await asyncio.gather(*(one(i) for i in range(40)))
    assert sum(first) >= 5  # releases let later ones in, but never more than 5 at once
    held = await asyncio.gather(
        *(
            (a if i % 2 else b).acquire_slot(
                "gpu-a", f"h{i}", general=False, capacity=5, general_limit=4
            )
            for i in range(20)
        )
    )
    assert sum(g.granted for g in held) == 5


async def test_a_dead_replicas_leases_lapse_and_a_live_ones_do_not(replicas: Replicas) -> None:
    clock = FakeClock()
    live, dead = await replicas(2, clock=clock)  # lease_ttl_s = 30
    for lease in ("d1", "d2"):
        assert (
            await dead.acquire_slot("gpu-a", lease, general=True, capacity=3, general_limit=3)
        ).granted
    assert (
        await live.acquire_slot("gpu-a", "l1", general=True, capacity=3, general_limit=3)
    ).granted
    refused = await live.acquire_slot("gpu-a", "l2", general=True, capacity=3, general_limit=3)
    assert not refused.granted and refused.next_expiry_s == 30.0

    clock.advance(20)
    await live.renew_leases()  # the dead replica's heartbeat never comes
    clock.advance(11)
    grant = await live.acquire_slot("gpu-a", "l2", general=True, capacity=3, general_limit=3)
    assert (grant.granted, grant.in_use) == (True, 2)  # l1 renewed, d1/d2 lapsed


async def test_a_release_on_one_replica_wakes_listeners_on_another(
    replicas: Replicas, redis_server: RedisServer
) -> None:
    a, b = await replicas(2)
    woke = asyncio.Event()
    a.on_slot_released(lambda backend: woke.set() if backend == "gpu-a" else None)
    raw = Redis.from_url(redis_server.url)
    channel = KeySpace(a._config.namespace).slot_channel()

    async def both_subscribed() -> bool:
        counts = dict(await raw.pubsub_numsub(channel))
        return counts.get(channel.encode(), 0) >= 2

    await wait_for(both_subscribed, what="both replicas subscribed")
    await raw.aclose()
    await b.acquire_slot("gpu-a", "l1", general=True, capacity=1, general_limit=1)
    await b.release_slot("gpu-a", "l1")
    await asyncio.wait_for(woke.wait(), timeout=5)


async def test_lua_matches_python_gcra_on_a_random_sequence(replicas: Replicas) -> None:
    clock = FakeClock()
    (redis_store,) = await replicas(1, clock=clock)
    memory = MemoryStore(clock=clock)
    rng = random.Random(20250115)
    for _ in range(300):
        clock.advance(rng.choice([0, 0.001, 0.37, 1.5, 4.0, 13.0]))
        limits = RateLimits(rpm=rng.choice([None, 7, 30]), tpm=rng.choice([None, 999, 5000]))
        tokens = rng.randint(0, 1200)
        assert await redis_store.check_rate("k", limits, tokens) == await memory.check_rate(
            "k", limits, tokens
        )


async def test_rate_limits_use_the_redis_clock(replicas: Replicas) -> None:
    (store,) = await replicas(1)  # no fake clock: the script reads TIME
    limits = RateLimits(tpm=600_000)  # one token per 100 µs
    assert (await store.check_rate("k", limits, 600_000)).allowed
    refused = await store.check_rate("k", limits, 1_000)
    assert not refused.allowed and 0 < refused.retry_after_s <= 0.1

    async def refilled() -> bool:
        d = await store.check_rate("k", limits, 0)
        return (d.remaining_tokens or 0) >= 1_000

    await wait_for(refilled, within=5, what="Redis TIME to refill the bucket")


async def test_settled_records_reach_the_tenant_usage_stream(
    replicas: Replicas, redis_server: RedisServer
) -> None:
    (store,) = await replicas(1)
    record = make_record("r1", tenant="acme")
    assert await store.settle(record)
    assert not await store.settle(record)
    raw = Redis.from_url(redis_server.url)
    entries = await raw.xrange(KeySpace(store._config.namespace).events("acme"))
    await raw.aclose()
    assert [json.loads(fields[b"record"]) for _, fields in entries] == [record.to_json()]


async def test_every_key_a_settle_touches_is_in_its_tenants_cluster_slot(
    replicas: Replicas,
) -> None:
    (store,) = await replicas(1)
    for tenant in ("acme", "we{ird}", "a}b", "%7B"):
        touched, _ = store._u().settle_call(make_record("r1", tenant=tenant), now=0.0)
        assert len({key_slot(k.encode()) for k in touched}) == 1, tenant
    keys = KeySpace("tg")
    assert keys.spent("a}b", "d1") != keys.spent("a%7Db", "d1")


async def test_commands_are_never_retried_by_the_client(replicas: Replicas) -> None:
    (store,) = await replicas(1)
    retry = store._c().connection_pool.connection_kwargs["retry"]
    assert retry.get_retries() == 0  # a timed-out write must not be sent again
