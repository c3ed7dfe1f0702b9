"""Strict priority: a higher ``Ticket.priority`` always goes first, FIFO within a priority."""

from __future__ import annotations

from policies.queue.keyed import KeyedQueue
from policies.ticket import Ticket


class PriorityQueue(KeyedQueue):
    """Pops the highest ``Ticket.priority``; among equals, the earliest ``seq``.

    Key: ``-priority``. Strict: a lower priority waits as long as any higher one
    is queued (bound it with the lower tier's ``queue_timeout_ms``, or use ``fair``
    or ``edf`` when that is not what you want). The tier sets ``priority``.

    .. code-block:: yaml

        scheduler:
          queue: {policy: priority}
        tiers:
          fast: {priority: 10}
          economy: {priority: 0}
    """

    name = "priority"
    __slots__ = ()

    def key(self, t: Ticket) -> float:
        return -t.priority
