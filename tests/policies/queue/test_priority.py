"""Strict priority: higher first, FIFO within a priority."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from policies.queue.priority import PriorityQueue
from tests.policies.fakes import PROPERTIES, ticket


def test_higher_priority_first_then_arrival_order() -> None:
    q = PriorityQueue()
    for seq, priority in [(1, 0), (2, 10), (3, 5), (4, 10), (5, 0), (6, -1)]:
        q.push(ticket(seq, priority=priority))
    assert [q.pop().seq for _ in range(6)] == [2, 4, 3, 1, 5, 6]  # type: ignore[union-attr]


@PROPERTIES
@given(st.permutations(range(30)), st.lists(st.integers(-2, 2), min_size=30, max_size=30))
def test_drained_in_priority_then_seq_order(order: list[int], priorities: list[int]) -> None:
    q = PriorityQueue()
    for seq in order:
        q.push(ticket(seq, priority=priorities[seq]))
    drained = [q.pop() for _ in range(30)]
    pairs = [(t.priority, t.seq) for t in drained if t is not None]
    assert len(pairs) == 30
    for (p1, s1), (p2, s2) in itertools.pairwise(pairs):
        assert p1 > p2 or (p1 == p2 and s1 < s2)


def test_a_late_high_priority_overtakes_a_waiting_low_one() -> None:
    q = PriorityQueue()
    q.push(ticket(1, priority=0))
    q.push(ticket(2, priority=0))
    assert q.pop().seq == 1  # type: ignore[union-attr]
    q.push(ticket(3, priority=9))
    assert q.pop().seq == 3  # type: ignore[union-attr]
