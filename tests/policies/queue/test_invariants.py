"""Every queue policy under random interleavings: nothing lost, nothing twice, push-back a no-op."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.protocols import QueuePolicy
from policies.queue.edf import EarliestDeadlineQueue
from policies.queue.fair import FairShareQueue
from policies.queue.fifo import FifoQueue
from policies.queue.priority import PriorityQueue
from policies.queue.sjf import ShortestJobQueue
from policies.ticket import Ticket, Usage
from tests.policies.fakes import PROPERTIES, ticket

QUEUES: dict[str, Callable[[], QueuePolicy]] = {
    "fifo": FifoQueue,
    "priority": PriorityQueue,
    "fair": FairShareQueue,
    "sjf": lambda: ShortestJobQueue(aging_tokens_per_s=50.0),
    "edf": EarliestDeadlineQueue,
}

# Few distinct values, so equal keys (and the seq tie-break) come up often.
new_ticket = st.builds(
    dict,
    tenant=st.sampled_from(["a", "b", "c"]),
    prompt_tokens=st.sampled_from([1, 50, 400]),
    max_tokens=st.sampled_from([0, 100]),
    arrival=st.sampled_from([0.0, 0.5, 2.0]),
    ttft_due=st.sampled_from([1.0, 3.0]),
    priority=st.sampled_from([0, 5]),
    weight=st.sampled_from([1.0, 2.0]),
)
op = st.one_of(
    st.tuples(st.just("push"), new_ticket),
    st.tuples(st.just("pop"), st.none()),
    st.tuples(st.just("remove"), st.integers(0, 40)),
    st.tuples(st.just("push_back"), st.none()),
    st.tuples(st.just("dispatch"), st.none()),
    st.tuples(st.just("finish"), st.integers(0, 40)),
)
ops = st.lists(op, max_size=60)


class Driver:
    """Plays ops against a queue the way the scheduler would, tracking where each ticket is."""

    def __init__(self, queue: QueuePolicy) -> None:
        self.q = queue
        self.made: list[Ticket] = []
        self.queued: set[Ticket] = set()
        self.popped: list[Ticket] = []  # popped, neither pushed back nor dispatched yet
        self.inflight: list[Ticket] = []
        self.pops: list[Ticket | None] = []

    def play(self, name: str, arg: Any) -> None:
        q = self.q
        if name == "push":
            t = ticket(len(self.made), **arg)
            self.made.append(t)
            q.push(t)
            self.queued.add(t)
        elif name == "pop":
            got = q.pop()
            self.pops.append(got)
            if got is None:
                assert not self.queued
            else:
                assert got in self.queued, "popped a ticket that was not queued"
                self.queued.discard(got)
                self.popped.append(got)
        elif name == "remove" and self.made:
            t = self.made[arg % len(self.made)]
            if t in self.inflight:
                return  # a ticket in flight is never removed from the queue
            q.remove(t)  # absent (already popped or removed) must be a no-op
            self.queued.discard(t)
            if t in self.popped:
                self.popped.remove(t)
        elif name == "push_back" and self.popped:
            t = self.popped.pop()
            q.push(t)
            self.queued.add(t)
        elif name == "dispatch" and self.popped:
            t = self.popped.pop(0)
            q.on_dispatch(t)
            self.inflight.append(t)
        elif name == "finish" and self.inflight:
            t = self.inflight.pop(arg % len(self.inflight))
            # Every third finish ran nothing (upstream failed early): usage None.
            q.on_finish(t, Usage(t.prompt_tokens, t.max_tokens // 2) if arg % 3 else None)
        assert len(q) == len(self.queued)

    def drain(self) -> list[Ticket]:
        out = []
        while (t := self.q.pop()) is not None:
            out.append(t)
        return out


@pytest.mark.parametrize("make", QUEUES.values(), ids=QUEUES.keys())
@PROPERTIES
@given(ops=ops)
def test_nothing_is_lost_or_duplicated(make: Callable[[], QueuePolicy], ops: list) -> None:
    d = Driver(make())
    for name, arg in ops:
        d.play(name, arg)
    drained = d.drain()
    assert len(drained) == len(set(drained))
    assert set(drained) == d.queued
    assert len(d.q) == 0
    assert d.q.pop() is None


@pytest.mark.parametrize("make", QUEUES.values(), ids=QUEUES.keys())
@PROPERTIES
@given(ops=ops, bounce=st.integers(0, 2**60))
def test_pop_then_push_back_changes_nothing(
    make: Callable[[], QueuePolicy], ops: list, bounce: int
) -> None:
    """A lease lost to another replica: the ticket goes back to its place, no one else moves."""
    plain, bounced = Driver(make()), Driver(make())
    for i, (name, arg) in enumerate(ops):
        if bounce >> i & 1 and (t := bounced.q.pop()) is not None:
            bounced.q.push(t)
        plain.play(name, arg)
        bounced.play(name, arg)
        assert [t and t.seq for t in plain.pops] == [t and t.seq for t in bounced.pops]
    assert [t.seq for t in plain.drain()] == [t.seq for t in bounced.drain()]


@pytest.mark.parametrize("make", QUEUES.values(), ids=QUEUES.keys())
def test_equal_keys_leave_in_seq_order(make: Callable[[], QueuePolicy]) -> None:
    q = make()
    for seq in (7, 3, 9, 1, 5):
        q.push(ticket(seq))
    assert [q.pop().seq for _ in range(5)] == [1, 3, 5, 7, 9]  # type: ignore[union-attr]


@pytest.mark.parametrize("make", QUEUES.values(), ids=QUEUES.keys())
def test_double_push_and_absent_remove_are_no_ops(make: Callable[[], QueuePolicy]) -> None:
    q = make()
    a, b, stranger = ticket(1), ticket(2), ticket(3)
    q.push(a)
    q.push(b)
    q.push(a)
    q.remove(stranger)
    assert len(q) == 2
    assert [q.pop(), q.pop(), q.pop()] == [a, b, None]


@pytest.mark.parametrize("make", QUEUES.values(), ids=QUEUES.keys())
def test_removed_then_pushed_again_is_queued_once(make: Callable[[], QueuePolicy]) -> None:
    q = make()
    a = ticket(1)
    q.push(a)
    q.remove(a)
    q.push(a)
    assert len(q) == 1
    assert [q.pop(), q.pop()] == [a, None]


@pytest.mark.parametrize("make", QUEUES.values(), ids=QUEUES.keys())
def test_removals_do_not_pile_up(make: Callable[[], QueuePolicy]) -> None:
    """Lazy deletion must not keep dead entries alive: timeouts remove most tickets."""

    def churn(q: QueuePolicy, n: int) -> int:
        tracemalloc.start()
        try:
            for i in range(1, n):
                t = ticket(i, tenant=f"t{i % 3}")
                q.push(t)
                q.remove(t)
            return tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()

    q = make()
    keep = ticket(0)
    q.push(keep)
    small, large = churn(make(), 500), churn(q, 8_000)
    assert large < 2 * small + 64_000  # 8k dead entries would hold about 2 MB
    assert q.pop() is keep
