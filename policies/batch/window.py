"""Window batching (DeepSeek-style): hold a tier's requests, release them as one group.

The engine then prefills the group together, so the tier trades deliberate
time-to-first-token for a bigger, cheaper batch.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, ValidationInfo, field_validator

from policies.params import PolicyParams
from policies.protocols import QueueView, Release


class WindowBatcher:
    """Holds tickets until ``min_batch`` are held or the oldest has waited ``max_wait_ms``.

    The window of a group opens at its oldest ticket's ``arrival`` and closes at
    ``arrival + max_wait_ms``. At ``plan(view, free_slots, now)``:

    - fewer than ``min_batch`` held and ``now`` before the window closes: release
      nothing, ``wake_at`` = the close;
    - otherwise: release the oldest ``min(held, max_batch)`` (all when
      ``max_batch`` is unset). A remainder forms the next group: if it is already
      due (``min_batch`` held, or its own oldest overdue) ``wake_at = now``, so it
      follows on the next scheduler pass, one group per pass; else ``wake_at`` is
      its window's close.

    ``free_slots`` is deliberately not used. Capping a group by the free slots
    would let a continuous tier, whose tickets keep the ready queue non-empty
    (and so ``free_slots`` at 0) under load, starve this one; released tickets
    beyond the free slots wait in the ready queue, where the queue policy, not
    the batch stage, arbitrates between tiers. A ticket therefore never waits in
    this stage beyond ``arrival + max_wait_ms`` when the scheduler honours
    ``wake_at``. Pick ``max_wait_ms`` at or below the tier's ``min_ttft_ms``: that
    wait is then free, because the TTFT floor holds the first token anyway.

    .. code-block:: yaml

        tiers:
          economy:
            min_ttft_ms: 3000
            batch: {policy: window, max_wait_ms: 2500, min_batch: 32, max_batch: 128}
    """

    class Params(PolicyParams):
        max_wait_ms: float = Field(200.0, ge=0, description="longest hold, from the oldest arrival")
        min_batch: int = Field(8, ge=1, description="release as soon as this many are held")
        max_batch: int | None = Field(None, ge=1, description="largest group released at once")

        @field_validator("max_batch")
        @classmethod
        def _not_below_min_batch(cls, v: int | None, info: ValidationInfo) -> int | None:
            low = info.data.get("min_batch")
            if v is not None and low is not None and v < low:
                raise ValueError(f"must be at least min_batch ({low})")
            return v

    kind: ClassVar[str] = "batch"
    name: ClassVar[str] = "window"

    __slots__ = ("max_batch", "max_wait_s", "min_batch")

    def __init__(
        self, *, max_wait_ms: float = 200.0, min_batch: int = 8, max_batch: int | None = None
    ) -> None:
        self.max_wait_s = max_wait_ms / 1000.0
        self.min_batch = min_batch
        self.max_batch = max_batch

    def plan(self, view: QueueView, free_slots: int, now: float) -> Release:
        waiting = view.waiting
        held = len(waiting)
        if held == 0:
            return Release(0)
        closes = waiting[0].arrival + self.max_wait_s
        if held < self.min_batch and now < closes:
            return Release(0, closes)
        count = held if self.max_batch is None else min(held, self.max_batch)
        rest = held - count
        if rest == 0:
            return Release(count)
        next_closes = waiting[count].arrival + self.max_wait_s
        due = rest >= self.min_batch or now >= next_closes
        return Release(count, now if due else next_closes)
