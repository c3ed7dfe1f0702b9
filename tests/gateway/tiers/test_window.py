"""Window batching end to end: economy requests reach the engine in groups, not one by one.

A spy on the scheduler records the groups the batch stage releases, and which dispatch
pass granted each request (a released group that finds free slots is granted in one
pass). No dispatch gate (``dispatch_lead_ms`` unset): the groups seen are the batch
policy's own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from gateway.scheduling.held import HeldTickets
from gateway.scheduling.scheduler import Scheduler
from policies.ticket import Ticket
from tests.fixtures.stack import KEYS, MODEL, gateway_stack
from tests.gateway.tiers.measure import streamed


@dataclass
class GrantLog:
    passes: int = 0
    grants: list[tuple[int, str, float]] = field(default_factory=list)  # (pass, tier, waited s)
    releases: list[tuple[str, int]] = field(default_factory=list)  # (tier, group size)

    def groups(self, tier: str) -> list[int]:
        """Sizes of the groups of ``tier`` granted together, in order."""
        sizes: dict[int, int] = {}
        for n, t, _ in self.grants:
            if t == tier:
                sizes[n] = sizes.get(n, 0) + 1
        return [sizes[n] for n in sorted(sizes)]


@pytest.fixture
def grant_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[GrantLog]:
    log = GrantLog()
    real_pass, real_grant, real_take = Scheduler._pass, Scheduler._grant, HeldTickets.take

    async def counted_pass(self: Scheduler) -> None:
        log.passes += 1
        await real_pass(self)

    def logged_grant(self: Scheduler, waiter: Any, *args: Any) -> None:
        t = waiter.ticket
        log.grants.append((log.passes, t.tier, self.clock() - t.arrival))
        real_grant(self, waiter, *args)

    def logged_take(self: HeldTickets, count: int) -> list[Ticket]:
        group = real_take(self, count)
        if group:
            log.releases.append((group[0].tier, len(group)))
        return group

    monkeypatch.setattr(HeldTickets, "take", logged_take)
    monkeypatch.setattr(Scheduler, "_pass", counted_pass)
    monkeypatch.setattr(Scheduler, "_grant", logged_grant)
    yield log


def window(max_wait_ms: float, min_batch: int) -> Any:
    def patch(tree: dict[str, Any]) -> None:
        eco = tree["tiers"]["economy"]
        eco["batch"] = {"policy": "window", "max_wait_ms": max_wait_ms, "min_batch": min_batch}
        eco["min_ttft_ms"] = 100

    return patch


async def test_min_batch_releases_the_group_the_moment_it_is_full(grant_log: GrantLog) -> None:
    async with gateway_stack(patch=window(max_wait_ms=60_000, min_batch=4)) as stack:
        eco = stack.client(KEYS["economy"])
        sched = stack.gateway.schedulers[MODEL]

        def held() -> int:
            return int(sched.snapshot()["held"].get("economy", 0))

        first = [asyncio.ensure_future(streamed(eco)) for _ in range(3)]
        await sched.wait_for(lambda: held() == 3)
        assert sched.dispatched == 0  # three wait: the window is a minute long
        assert all(s.engine.num_running + s.engine.num_waiting == 0 for s in stack.sims)
        fourth = await streamed(eco)  # the fourth fills the group: all four go at once
        await asyncio.gather(*first)
        assert fourth.ttft >= 0.1
        assert grant_log.releases == [("economy", 4)]
        assert grant_log.groups("economy") == [4]


async def test_the_window_closing_releases_a_short_group_together(grant_log: GrantLog) -> None:
    async with gateway_stack(patch=window(max_wait_ms=400, min_batch=100)) as stack:
        eco = stack.client(KEYS["economy"])
        await asyncio.gather(*(streamed(eco) for _ in range(5)))
        assert grant_log.releases == [("economy", 5)]
        assert grant_log.groups("economy") == [5]
        oldest_wait = max(held for _, _, held in grant_log.grants)
        assert oldest_wait >= 0.4  # nobody left the batch stage before the window closed


async def test_a_burst_is_dispatched_in_groups_and_fast_is_never_held(grant_log: GrantLog) -> None:
    async with gateway_stack(patch=window(max_wait_ms=300, min_batch=4)) as stack:
        eco, fast = stack.client(KEYS["economy"]), stack.client(KEYS["fast"])
        await asyncio.gather(*(streamed(eco) for _ in range(14)), streamed(fast), streamed(fast))
        groups = [n for tier, n in grant_log.releases if tier == "economy"]
        assert sum(groups) == 14
        # every group but the last came full; the last only when its window closed
        assert all(g >= 4 for g in groups[:-1]), groups
        fast_held = [held for _, tier, held in grant_log.grants if tier == "fast"]
        economy_held = sorted(held for _, tier, held in grant_log.grants if tier == "economy")
        assert len(fast_held) == 2 and max(fast_held) < economy_held[-1]
