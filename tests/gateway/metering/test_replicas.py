"""Two gateway processes sharing one Redis: together they never overspend a tenant's budget
and never run more on a backend than its capacity (nor its general share)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import openai
import pytest
import pytest_asyncio

from loadtest.sim.server import SimServer
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.stack import ADMIN_KEY, ENGINE_MODEL, MODEL
from tests.gateway.metering.admin_client import usage
from tests.gateway.metering.replicas import Replica, replicas

pytestmark = [pytest.mark.redis, pytest.mark.asyncio(loop_scope="module")]

STD, RESEARCH, CAPPED = "sk-test-std-0001", "sk-test-research-0001", "sk-test-capped-0001"
CAPACITY, GENERAL = 4, 3  # reserve 0.25: one slot only the internal tier may take
GENERAL_TOKENS, RESERVE_TOKENS = 40, 41  # the sim tells the classes apart by max_tokens
BUDGET_TOKENS = 20  # output $1 per 1M: each request reserves and spends exactly 20,000 nano


def tree(sim_url: str) -> dict[str, Any]:
    return {
        "server": {"host": "127.0.0.1", "port": 0, "access_log": False},
        "backends": [
            {
                "name": "sim0",
                "url": sim_url,
                "models": {MODEL: ENGINE_MODEL},
                "capacity": CAPACITY,
                "reserve": 0.25,
                "gpus": 1,
                "gpu_hour_usd": 2.0,
                "health": {"interval_s": 0.5},
            }
        ],
        "models": {MODEL: {"max_context": 8192}},
        "tiers": {
            "std": {"prices": {"input": 0, "output": 1.0}, "queue_timeout_ms": 60_000},
            "internal": {"use_reserve": True, "queue_timeout_ms": 60_000},
        },
        "keys": [
            {"key": STD, "tenant": "shared", "tier": "std"},
            {"key": RESEARCH, "tenant": "research", "tier": "internal"},
            # ten requests' worth: 10 x 20 output tokens at $1 per 1M = $0.0002
            {"key": CAPPED, "tenant": "capped", "tier": "std", "budget": {"usd": 0.0002}},
            {"key": ADMIN_KEY, "admin": True},
        ],
    }


@dataclass
class Peak:
    """The most sequences the sim held at once, in all and of the general class."""

    total: int = 0
    general: int = 0


@dataclass
class Fleet:
    sim: SimServer
    peak: Peak
    gateways: list[Replica]


def observe(sim: SimServer, peak: Peak) -> asyncio.Future[None]:
    """Count what the sim holds at every engine change (its watchers see each arrival)."""
    engine = sim.engine

    def count() -> bool:
        live = [*engine.running, *engine.waiting]
        peak.total = max(peak.total, len(live))
        peak.general = max(peak.general, sum(s.max_tokens == GENERAL_TOKENS for s in live))
        return False  # keep watching until cancelled

    return asyncio.ensure_future(sim.wait_for(count))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fleet(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Fleet]:
    # time_scale 2: a 40-token answer takes ~0.15 s, long enough for slots to be contended.
    async with SimServer(model=ENGINE_MODEL, time_scale=2.0, seed=1) as sim:
        peak = Peak()
        watcher = observe(sim, peak)
        workdir = tmp_path_factory.mktemp("replicas")
        try:
            async with replicas(tree(sim.url), redis_server.url, workdir) as gateways:
                yield Fleet(sim, peak, gateways)
        finally:
            watcher.cancel()


async def test_two_replicas_admit_exactly_what_the_budget_holds(fleet: Fleet) -> None:
    clients = [g.client(CAPPED) for g in fleet.gateways]

    async def one(i: int) -> str:
        try:
            await clients[i % 2].completions.create(
                model=MODEL, prompt=f"budget {i}", max_tokens=BUDGET_TOKENS
            )
        except openai.RateLimitError as exc:
            return str(exc.code)
        return "ok"

    try:
        outcomes = await asyncio.gather(*(one(i) for i in range(50)))
    finally:
        for c in clients:
            await c.close()
    assert outcomes.count("ok") == 10
    assert outcomes.count("insufficient_quota") == 40

    for g in fleet.gateways:  # each flushes its own settles before answering
        report = await usage(g.url, tenant="capped")
    assert report["total"]["requests"] == 10
    assert report["total"]["charge_nano"] == 10 * 20_000


async def test_two_replicas_never_exceed_capacity_or_the_general_share(fleet: Fleet) -> None:
    fleet.peak.total = fleet.peak.general = 0
    clients = [(g.client(STD), g.client(RESEARCH)) for g in fleet.gateways]

    async def one(i: int) -> None:
        std, research = clients[i % 2]
        reserve = i % 4 == 3
        out = await (research if reserve else std).completions.create(
            model=MODEL,
            prompt=f"slot {i}",
            max_tokens=RESERVE_TOKENS if reserve else GENERAL_TOKENS,
        )
        assert out.usage is not None

    try:
        await asyncio.gather(*(one(i) for i in range(32)))
    finally:
        for pair in clients:
            for c in pair:
                await c.close()
    assert fleet.peak.total <= CAPACITY
    assert fleet.peak.general <= GENERAL
    assert fleet.peak.total >= GENERAL  # the test did contend for slots

    for g in fleet.gateways:
        report = await usage(g.url, group_by="tenant")
    by_tenant = {row["tenant"]: row["requests"] for row in report["groups"]}
    assert by_tenant["shared"] == 24 and by_tenant["research"] == 8
