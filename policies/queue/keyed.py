"""A heap of tickets ordered by a policy's key, then ``Ticket.seq``, with lazy removal.

The shared mechanism of the stateless queues (fifo, priority, sjf, edf): each
only says what its key is. The key must depend on the ticket alone, so a popped
ticket pushed back lands exactly where it was.
"""

from __future__ import annotations

import heapq
import itertools
from typing import ClassVar

from policies.ticket import Ticket, Usage

# Rebuild the heap once dead entries outnumber live ones by this margin: removal
# stays O(1) amortised and memory stays O(live tickets).
_SLACK = 64


class KeyedQueue:
    """Tickets popped in ascending ``(key(t), t.seq)``; push, pop O(log n), remove O(1) amortised.

    ``remove`` only forgets the ticket; its heap entry dies in place and is
    skipped by ``pop``. Each push gets a fresh stamp, so a ticket removed and
    pushed again never revives its dead entry.
    """

    kind: ClassVar[str] = "queue"
    name: ClassVar[str]

    __slots__ = ("_dead", "_heap", "_live", "_stamps")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, int, Ticket]] = []
        self._live: dict[Ticket, int] = {}  # ticket → stamp of its live heap entry
        self._stamps = itertools.count()
        self._dead = 0

    def key(self, t: Ticket) -> float:
        """The policy's ordering key, smaller first; must depend on ``t`` alone."""
        raise NotImplementedError

    def push(self, t: Ticket) -> None:
        if t in self._live:
            return
        stamp = next(self._stamps)
        self._live[t] = stamp
        heapq.heappush(self._heap, (self.key(t), t.seq, stamp, t))

    def pop(self) -> Ticket | None:
        heap, live = self._heap, self._live
        while heap:
            _, _, stamp, t = heapq.heappop(heap)
            if live.get(t) == stamp:
                del live[t]
                return t
            self._dead -= 1
        return None

    def remove(self, t: Ticket) -> None:
        if self._live.pop(t, None) is None:
            return
        self._dead += 1
        if self._dead > len(self._live) + _SLACK:
            live = self._live
            self._heap = [e for e in self._heap if live.get(e[3]) == e[2]]
            heapq.heapify(self._heap)
            self._dead = 0

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, t: object) -> bool:
        return t in self._live

    def on_dispatch(self, t: Ticket) -> None:
        """Stateless: dispatch changes no order."""

    def on_finish(self, t: Ticket, usage: Usage | None) -> None:
        """Stateless: completion changes no order."""
