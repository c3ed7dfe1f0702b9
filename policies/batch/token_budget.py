"""Token budget: release held tickets only while the tokens in flight stay under a budget."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from policies.params import PolicyParams
from policies.protocols import QueueView, Release


class TokenBudgetBatcher:
    """Releases the oldest held tickets while their tokens fit the model's budget.

    With ``B = max_tokens_in_flight · view.backends`` and
    ``used = view.inflight_tokens + view.ready_tokens`` (all tiers' requests in
    flight, plus this tier's released tickets still waiting for a slot), it
    releases the longest prefix of ``view.waiting`` with
    ``used + Σ expected_tokens ≤ B``. Strictly in order: a large ticket at the
    head is not overtaken by smaller ones behind it, so it cannot starve.

    No deadlock: when nothing is in flight or waiting for a slot, the head is
    released even if it alone exceeds ``B`` (it could never fit otherwise).

    ``free_slots`` is not used: the budget, not the slot count, is this
    policy's limit, and the ready queue holds released tickets until a slot
    frees. Never asks for a timer: only a completion (tokens leave flight) or an
    arrival changes the answer, and the scheduler wakes on both.

    .. code-block:: yaml

        tiers:
          batch:
            batch: {policy: token_budget, max_tokens_in_flight: 200000}
    """

    class Params(PolicyParams):
        max_tokens_in_flight: int = Field(
            ..., ge=1, description="prompt + max_tokens in flight per live backend"
        )

    kind: ClassVar[str] = "batch"
    name: ClassVar[str] = "token_budget"

    __slots__ = ("max_tokens_in_flight",)

    def __init__(self, *, max_tokens_in_flight: int) -> None:
        self.max_tokens_in_flight = max_tokens_in_flight

    def plan(self, view: QueueView, free_slots: int, now: float) -> Release:
        if not view.waiting:
            return Release(0)
        budget = self.max_tokens_in_flight * view.backends
        used = view.inflight_tokens + view.ready_tokens
        count = 0
        for t in view.waiting:  # iterate: a held-ticket view may index in O(i)
            used += t.expected_tokens
            if used > budget:
                break
            count += 1
        if count == 0 and view.inflight == 0 and view.ready_tokens == 0:
            count = 1
        return Release(count)
