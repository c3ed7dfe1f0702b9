"""The scheduler under random arrivals, cancellations and completions, driven pass by pass.

No server, no timers: the dispatch loop is not started; each step runs one ``_pass`` by
hand, so every interleaving hypothesis finds is replayed exactly. What must hold after
every pass: nothing lost or granted twice, no backend over its capacity or its general
limit, work conserved (a ready ticket waits only when no slot it may take is free), and
reserve tiers borrowing a general slot only while no general ticket waits.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from gateway.config.schema import BackendConfig
from gateway.scheduling.scheduler import _GATED, _READY, Grant, Scheduler, SchedulerPolicies
from gateway.scheduling.slots import LocalSlots
from gateway.upstream.backend import BackendState
from policies.batch.continuous import ContinuousBatcher
from policies.batch.window import WindowBatcher
from policies.queue.priority import PriorityQueue
from policies.route.least_loaded import LeastLoadedRouter
from policies.ticket import Ticket, Usage
from tests.policies.fakes import PROPERTIES

TIERS = {"fast": (10, False), "economy": (0, False), "internal": (5, True)}  # priority, reserve


def backends() -> list[BackendState]:
    out = []
    for name, capacity in (("a", 4), ("b", 3)):
        b = BackendState(
            BackendConfig(name=name, url="http://x", models=["m"], capacity=capacity, reserve=0.34)
        )
        b.healthy = True
        out.append(b)
    return out


def policies(**holds: float) -> SchedulerPolicies:
    return SchedulerPolicies(
        queue_factory=PriorityQueue,
        router=LeastLoadedRouter(),
        batchers={"economy": WindowBatcher(max_wait_ms=0, min_batch=2)},
        default_batcher=ContinuousBatcher(),
        holds=holds,
    )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Run:
    """A scheduler and the requests it was given, with where each one is."""

    def __init__(self, holds: dict[str, float] | None = None) -> None:
        self.clock = Clock()
        self.backends = backends()
        self.s = Scheduler("m", self.backends, policies(**(holds or {})), LocalSlots(), self.clock)
        self.tasks: dict[Ticket, asyncio.Task[Grant]] = {}
        self.granted: dict[Ticket, Grant] = {}
        self.finished: set[Ticket] = set()
        self.cancelled: set[Ticket] = set()
        self.seq = itertools.count()
        self.borrow_violations: list[Ticket] = []

    async def arrive(self, tier: str) -> None:
        priority, reserve = TIERS[tier]
        n = next(self.seq)
        now = self.clock.now
        t = Ticket(
            id=f"r{n}",
            seq=n,
            tenant=tier,
            tier=tier,
            model="m",
            prompt_tokens=10,
            max_tokens=10,
            arrival=now,
            deadline=now + 1e6,
            ttft_due=now + 1.0,
            priority=priority,
            use_reserve=reserve,
        )
        self.tasks[t] = asyncio.get_running_loop().create_task(self.s.acquire(t))
        await asyncio.sleep(0)  # let acquire() enqueue it

    async def cancel(self, i: int) -> None:
        waiting = [t for t, task in self.tasks.items() if not task.done()]
        if waiting:
            t = waiting[i % len(waiting)]
            self.tasks[t].cancel()
            self.cancelled.add(t)
            await asyncio.sleep(0)

    async def finish(self, i: int) -> None:
        running = [t for t in self.granted if t not in self.finished]
        if running:
            t = running[i % len(running)]
            self.finished.add(t)
            await self.s.release(self.granted[t], t, Usage(10, 10))

    async def step(self) -> None:
        general_waiting = len(self.s._ready[True]) > 0
        await self.s._pass()
        await asyncio.sleep(0)  # deliver the futures the pass resolved
        for t, task in self.tasks.items():
            if task.done() and not task.cancelled() and t not in self.granted:
                grant = task.result()
                self.granted[t] = grant
                if t.use_reserve and not grant.reserved and general_waiting:
                    self.borrow_violations.append(t)
        self.check()

    def check(self) -> None:
        assert not self.borrow_violations, "a reserve tier borrowed while a general ticket waited"
        running = [t for t in self.granted if t not in self.finished]
        for b in self.backends:
            mine = [t for t in running if self.granted[t].backend is b]
            assert b.inflight == len(mine) <= b.capacity
            assert b.general_inflight == sum(not t.use_reserve for t in mine) <= b.general_limit
            assert b.reserved_inflight <= b.reserved_slots
        slots = self.s.slots
        if len(self.s._ready[True]):
            assert not any(slots.room(b, True) for b in self.backends), "general work not conserved"
        if len(self.s._ready[False]):
            assert not any(self.s._may_take(b, False) for b in self.backends), "reserve idle"
        waiting = {t for t, task in self.tasks.items() if not task.done()}
        assert self.s.waiting() == len(waiting)
        # The batch policies' ready_tokens: the running sum is what a scan of the waiters gives.
        released: dict[str, int] = {}
        for w in self.s._waiters.values():
            if w.stage in (_GATED, _READY):
                released[w.ticket.tier] = released.get(w.ticket.tier, 0) + w.ticket.expected_tokens
        assert {k: v for k, v in self.s._released_tokens.items() if v} == released
        assert set(self.granted).isdisjoint(self.cancelled - set(self.granted))

    async def drain(self) -> None:
        """Finish everything, one request at a time, until every arrival was served or left."""
        for _ in range(10 * len(self.tasks) + 10):
            await self.step()
            if all(task.done() for task in self.tasks.values()) and all(
                t in self.finished for t in self.granted
            ):
                break
            await self.finish(0)
        served = set(self.granted)
        left = {t for t, task in self.tasks.items() if task.cancelled()}
        assert served | left == set(self.tasks), "a ticket was lost"
        assert not served & left
        assert all(b.inflight == 0 for b in self.backends)
        assert self.s.waiting() == 0


op = st.one_of(
    st.tuples(st.just("arrive"), st.sampled_from(sorted(TIERS))),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("finish"), st.integers(0, 50)),
    st.tuples(st.just("step"), st.none()),
)


async def play(ops: list[tuple[str, Any]], holds: dict[str, float] | None = None) -> None:
    run = Run(holds)
    for name, arg in ops:
        if name == "arrive":
            await run.arrive(arg)
        elif name == "cancel":
            await run.cancel(arg)
        elif name == "finish":
            await run.finish(arg)
        else:
            await run.step()
    run.clock.now += 10.0  # every gate open, every window closed
    await run.drain()


@PROPERTIES
@given(ops=st.lists(op, max_size=80))
def test_nothing_lost_no_limit_broken_work_conserved(ops: list[tuple[str, Any]]) -> None:
    asyncio.run(play(ops))


@PROPERTIES
@given(ops=st.lists(op, max_size=60))
def test_the_same_holds_with_a_dispatch_gate(ops: list[tuple[str, Any]]) -> None:
    asyncio.run(play(ops, holds={"economy": 5.0}))


async def test_a_floor_tier_stays_gated_off_every_slot_until_its_hold_ends() -> None:
    run = Run(holds={"economy": 0.5})
    for _ in range(2):
        await run.arrive("economy")
    await run.step()
    assert run.s.snapshot()["gated"] == 2 and not run.granted
    assert all(b.inflight == 0 for b in run.backends)
    await run.arrive("fast")  # a faster tier is not held behind the gate
    await run.step()
    assert [t.tier for t in run.granted] == ["fast"]
    run.clock.now += 0.5
    await run.step()
    assert sorted(t.tier for t in run.granted) == ["economy"] * 2 + ["fast"]
    await run.drain()


async def test_reserve_borrows_general_slots_only_while_no_general_ticket_waits() -> None:
    run = Run()
    general_slots = sum(b.general_limit for b in run.backends)
    reserved_slots = sum(b.reserved_slots for b in run.backends)
    for _ in range(reserved_slots + 2):
        await run.arrive("internal")
    await run.step()
    # nobody else waits: internal took its reserved slots and borrowed two general ones
    assert len(run.granted) == reserved_slots + 2
    for _ in range(general_slots):
        await run.arrive("fast")
    await run.arrive("internal")
    await run.step()
    assert run.s.waiting_by_tier() == {"fast": 2, "internal": 1}  # no preemption of borrowers
    await run.finish(0)  # an internal request ends: its slot goes to fast, not internal
    await run.step()
    assert run.s.waiting_by_tier() == {"fast": 1, "internal": 1}
    await run.drain()
