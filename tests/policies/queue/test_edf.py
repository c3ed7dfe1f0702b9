"""Earliest deadline first: by ``ttft_due``, ties in arrival order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from policies.queue.edf import EarliestDeadlineQueue
from tests.policies.fakes import PROPERTIES, ticket


def test_earliest_ttft_due_first() -> None:
    q = EarliestDeadlineQueue()
    # an economy ticket (due late) that arrived first, fast ones due sooner
    q.push(ticket(1, arrival=0.0, ttft_due=3.0))
    q.push(ticket(2, arrival=0.5, ttft_due=0.7))
    q.push(ticket(3, arrival=0.6, ttft_due=0.8))
    q.push(ticket(4, arrival=0.6, ttft_due=0.7))
    assert [q.pop().seq for _ in range(4)] == [2, 4, 3, 1]  # type: ignore[union-attr]


@PROPERTIES
@given(
    st.permutations(range(30)), st.lists(st.sampled_from([0.5, 1.0, 2.5]), min_size=30, max_size=30)
)
def test_drained_by_deadline_then_seq(order: list[int], dues: list[float]) -> None:
    q = EarliestDeadlineQueue()
    for seq in order:
        q.push(ticket(seq, ttft_due=dues[seq]))
    pairs = [(t.ttft_due, t.seq) for t in iter(q.pop, None)]
    assert len(pairs) == 30
    assert pairs == sorted(pairs)
