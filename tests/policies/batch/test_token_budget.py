"""Token budget: tokens in flight stay under budget x backends, except one ticket alone."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.batch.token_budget import TokenBudgetBatcher
from policies.protocols import QueueView, Release
from policies.ticket import Ticket
from tests.policies.fakes import PROPERTIES, ticket


def sized(*tokens: int) -> list[Ticket]:
    return [ticket(i, prompt_tokens=n, max_tokens=0) for i, n in enumerate(tokens)]


# load: (inflight, inflight_tokens, backends, ready_tokens)
@pytest.mark.parametrize(
    ("budget", "waiting", "load", "count"),
    [
        pytest.param(1000, [], (0, 0, 1, 0), 0, id="nothing held"),
        pytest.param(1000, [300, 300, 300, 300], (0, 0, 1, 0), 3, id="fills the budget"),
        pytest.param(1000, [300, 300, 300, 300], (2, 400, 1, 0), 2, id="in-flight tokens count"),
        pytest.param(
            1000, [300, 300, 300, 300], (0, 0, 1, 400), 2, id="released, waiting for a slot"
        ),
        pytest.param(1000, [300, 300, 300, 300], (0, 0, 2, 0), 4, id="budget is per backend"),
        pytest.param(
            1000, [900, 50, 50], (1, 200, 1, 0), 0, id="strict order: the big head blocks"
        ),
        pytest.param(1000, [5000, 10], (0, 0, 1, 0), 1, id="nothing in flight: release one anyway"),
        pytest.param(1000, [5000, 10], (1, 10, 1, 0), 0, id="something in flight: wait"),
        pytest.param(1000, [5000], (0, 0, 1, 10), 0, id="something waiting for a slot: wait"),
        pytest.param(1000, [1000], (0, 0, 1, 0), 1, id="exactly at the budget fits"),
    ],
)
def test_plan(budget: int, waiting: list[int], load: tuple[int, int, int, int], count: int) -> None:
    view = QueueView(sized(*waiting), *load)
    batcher = TokenBudgetBatcher(max_tokens_in_flight=budget)
    assert batcher.plan(view, free_slots=0, now=0.0) == Release(count, None)


@PROPERTIES
@given(
    sizes=st.lists(st.integers(1, 3000), min_size=1, max_size=60),
    budget=st.integers(500, 4000),
    backends=st.integers(1, 3),
    slots=st.integers(1, 6),
    moves=st.lists(st.integers(0, 9), min_size=200, max_size=200),
)
def test_budget_holds_across_arrivals_and_completions(
    sizes: list[int], budget: int, backends: int, slots: int, moves: list[int]
) -> None:
    """A scheduler in miniature: released tickets wait for one of ``slots`` slots, then finish."""
    batcher = TokenBudgetBatcher(max_tokens_in_flight=budget)
    pending = [ticket(i, prompt_tokens=n, max_tokens=0) for i, n in enumerate(sizes)]
    held: list[Ticket] = []
    ready: list[Ticket] = []
    inflight: list[Ticket] = []

    def tokens(ts: list[Ticket]) -> int:
        return sum(t.expected_tokens for t in ts)

    def schedule() -> None:
        nonlocal held
        view = QueueView(list(held), len(inflight), tokens(inflight), backends, tokens(ready))
        count = batcher.plan(view, slots - len(inflight), now=0.0).count
        ready.extend(held[:count])
        held = held[count:]
        while ready and len(inflight) < slots:
            inflight.append(ready.pop(0))
        committed = inflight + ready
        assert tokens(committed) <= budget * backends or len(committed) == 1

    for move in moves:
        if pending and (move < 5 or not inflight):
            held.append(pending.pop(0))
        elif inflight:
            inflight.pop(move % len(inflight))
        schedule()
    while held or ready or inflight:  # drain: the budget must never wedge the tier
        assert inflight, "tickets held with nothing in flight: deadlock"
        inflight.pop(0)
        schedule()
