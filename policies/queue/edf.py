"""Earliest deadline first: the ticket whose first token is due soonest goes next."""

from __future__ import annotations

from policies.queue.keyed import KeyedQueue
from policies.ticket import Ticket


class EarliestDeadlineQueue(KeyedQueue):
    """Pops the smallest ``Ticket.ttft_due``; among equal deadlines, the earliest ``seq``.

    Key: ``ttft_due`` (arrival plus the tier's TTFT target, on the scheduler's
    clock). A tier with a generous target yields to a tight one only while the
    tight one's deadline is sooner, so neither starves the other. No parameters.

    .. code-block:: yaml

        scheduler:
          queue: {policy: edf}
    """

    name = "edf"
    __slots__ = ()

    def key(self, t: Ticket) -> float:
        return t.ttft_due
