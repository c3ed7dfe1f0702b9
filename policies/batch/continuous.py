"""Continuous batching at the gateway: nothing is held, every ticket is released at once."""

from __future__ import annotations

from typing import ClassVar

from policies.protocols import QueueView, Release


class ContinuousBatcher:
    """Releases every held ticket now; never asks to be woken.

    The engine already batches continuously; this tier adds no wait of its own.
    ``free_slots`` is not used: released tickets that find no slot wait in the
    ready queue, where the queue policy (not arrival at the batch stage) decides
    who gets the next slot. No parameters.

    .. code-block:: yaml

        tiers:
          fast:
            batch: {policy: continuous}
    """

    kind: ClassVar[str] = "batch"
    name: ClassVar[str] = "continuous"

    def plan(self, view: QueueView, free_slots: int, now: float) -> Release:
        return Release(len(view.waiting))
