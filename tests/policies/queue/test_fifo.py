"""FIFO: arrival order, whatever order the pushes come in."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from policies.queue.fifo import FifoQueue
from tests.policies.fakes import PROPERTIES, ticket


@PROPERTIES
@given(st.permutations(range(25)))
def test_pops_in_seq_order_whatever_the_push_order(order: list[int]) -> None:
    q = FifoQueue()
    for seq in order:
        # FIFO ignores every other attribute
        q.push(ticket(seq, priority=seq % 3, prompt_tokens=1 + seq * 7 % 11, ttft_due=-seq))
    assert [q.pop().seq for _ in range(25)] == list(range(25))  # type: ignore[union-attr]
    assert q.pop() is None
