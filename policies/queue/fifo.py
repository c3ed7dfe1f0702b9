"""First come, first served: released tickets leave in arrival order."""

from __future__ import annotations

from policies.queue.keyed import KeyedQueue
from policies.ticket import Ticket


class FifoQueue(KeyedQueue):
    """Pops the ticket with the smallest ``Ticket.seq`` (the earliest arrival).

    Key: none, so order is ``seq`` alone. No parameters.

    .. code-block:: yaml

        scheduler:
          queue: {policy: fifo}
    """

    name = "fifo"
    __slots__ = ()

    def key(self, t: Ticket) -> float:
        return 0
