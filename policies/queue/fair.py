"""Weighted fair share between tenants with a Virtual Token Counter (VTC).

Sheng et al., "Fairness in Serving Large Language Models", OSDI'24: serve the
backlogged tenant that has received the least weighted service so far.
"""

from __future__ import annotations

import heapq
import itertools
from typing import ClassVar

from pydantic import Field

from policies.params import PolicyParams
from policies.ticket import Ticket, Usage

# A zero weight would divide by zero inside the dispatch loop; treat it as a tiny share.
_MIN_WEIGHT = 1e-6
# Heaps are rebuilt once dead entries outnumber live ones by this margin.
_SLACK = 64


class _Tenant:
    __slots__ = ("active", "counter", "heap", "name", "queued", "version")

    def __init__(self, name: str) -> None:
        self.name = name
        self.counter = 0.0  # weighted service received: the virtual token counter
        self.heap: list[tuple[int, int, Ticket]] = []  # (seq, stamp, ticket), dead entries skipped
        self.queued = 0
        self.active = 0  # tickets queued, popped-not-yet-dispatched, or in flight
        self.version = 0  # bumped on every change; older heap entries are dead


class FairShareQueue:
    """Pops, FIFO, from the backlogged tenant with the smallest virtual token counter.

    Each tenant has a counter ``c`` of the weighted service it received::

        on_dispatch(t):  c[t.tenant] += input_weight  * t.prompt_tokens     / t.weight
        on_finish(t, u): c[t.tenant] += output_weight * u.completion_tokens / t.weight

    ``t.weight`` (the tier's queue weight) scales the share: a tenant at weight 2
    gets twice the tokens of one at weight 1 while both are backlogged. Ties go to
    the tenant whose oldest ticket has the smaller ``seq``.

    Counter lift: a tenant that becomes active again (a ticket pushed while none
    of its tickets is queued, popped or in flight) is raised to
    ``max(c, min c of the active tenants)``, or to the counter of the last tenant
    that went idle when none is active, so idle time earns no credit to spend
    later. A ticket pushed back after ``pop`` is not a return from idle.

    Bound: while two tenants stay backlogged their counters differ by at most
    the charge of one request, ``max(input_weight·prompt + output_weight·output)/weight``,
    with one slot; with ``C`` requests in flight, output charges land late, and
    the bound is ``max(input charge) + C·max(output charge)``.

    All operations are O(log n) in tickets and tenants. Counters live in the
    instance and start at 0: a reload that changes the queue spec starts afresh
    (an unchanged spec yields the same registry factory, and the queue is kept).

    .. code-block:: yaml

        scheduler:
          queue: {policy: fair, input_weight: 1, output_weight: 2}
        tiers:
          economy: {weight: 1}
          pro: {weight: 2}
    """

    class Params(PolicyParams):
        input_weight: float = Field(1.0, ge=0, description="service per prompt token")
        output_weight: float = Field(2.0, ge=0, description="service per completion token")

    kind: ClassVar[str] = "queue"
    name: ClassVar[str] = "fair"

    __slots__ = (
        "_floor",
        "_inflight",
        "_last_idle",
        "_live",
        "_pick",
        "_popped",
        "_stamps",
        "_tenants",
        "_w_in",
        "_w_out",
    )

    def __init__(self, *, input_weight: float = 1.0, output_weight: float = 2.0) -> None:
        self._w_in = input_weight
        self._w_out = output_weight
        self._tenants: dict[str, _Tenant] = {}
        self._live: dict[Ticket, int] = {}  # queued ticket → stamp of its live heap entry
        self._popped: set[Ticket] = set()
        self._inflight: set[Ticket] = set()
        # (counter, head seq, version, tenant): the backlogged tenants, smallest first.
        self._pick: list[tuple[float, int, int, str]] = []
        # (counter, version, tenant): the active tenants, for the lift.
        self._floor: list[tuple[float, int, str]] = []
        self._stamps = itertools.count()
        self._last_idle: float | None = None

    # -- the queue ---------------------------------------------------------------

    def push(self, t: Ticket) -> None:
        if t in self._live:
            return
        ten = self._tenant(t.tenant)
        if t in self._popped:
            self._popped.discard(t)  # pushed back: it never left, nothing to lift
        elif t in self._inflight:
            self._inflight.discard(t)
        else:
            if ten.active == 0:
                self._lift(ten)
            ten.active += 1
        stamp = next(self._stamps)
        self._live[t] = stamp
        heapq.heappush(ten.heap, (t.seq, stamp, t))
        ten.queued += 1
        self._touch(ten)

    def pop(self) -> Ticket | None:
        pick, tenants = self._pick, self._tenants
        while pick:
            _, _, version, name = pick[0]
            ten = tenants[name]
            if version != ten.version or not ten.queued:
                heapq.heappop(pick)
                continue
            _, _, t = heapq.heappop(ten.heap)  # _touch left the live head on top
            del self._live[t]
            ten.queued -= 1
            self._popped.add(t)
            self._touch(ten)
            return t
        return None

    def remove(self, t: Ticket) -> None:
        if t in self._live:
            del self._live[t]
            ten = self._tenants[t.tenant]
            ten.queued -= 1
        elif t in self._popped:
            self._popped.discard(t)
            ten = self._tenants[t.tenant]
        else:
            return
        ten.active -= 1
        self._touch(ten)
        if ten.active == 0:
            self._last_idle = ten.counter

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, t: object) -> bool:
        return t in self._live

    # -- the counters ------------------------------------------------------------

    def on_dispatch(self, t: Ticket) -> None:
        ten = self._tenant(t.tenant)
        ten.counter += self._w_in * t.prompt_tokens / max(t.weight, _MIN_WEIGHT)
        if t in self._popped:
            self._popped.discard(t)
        elif t in self._live:  # dispatched without a pop: take it out of the queue
            del self._live[t]
            ten.queued -= 1
        elif t not in self._inflight:
            ten.active += 1  # dispatched from a queue this one replaced
        self._inflight.add(t)
        self._touch(ten)

    def on_finish(self, t: Ticket, usage: Usage | None) -> None:
        ten = self._tenant(t.tenant)
        if usage is not None:
            ten.counter += self._w_out * usage.completion_tokens / max(t.weight, _MIN_WEIGHT)
        if t in self._inflight:
            self._inflight.discard(t)
            ten.active -= 1
        self._touch(ten)
        if ten.active == 0:
            self._last_idle = ten.counter

    def counter(self, tenant: str) -> float:
        """The tenant's virtual token counter (0 for a tenant never seen)."""
        ten = self._tenants.get(tenant)
        return ten.counter if ten is not None else 0.0

    # -- bookkeeping ---------------------------------------------------------------

    def _tenant(self, name: str) -> _Tenant:
        ten = self._tenants.get(name)
        if ten is None:
            ten = self._tenants[name] = _Tenant(name)
        return ten

    def _lift(self, ten: _Tenant) -> None:
        floor = self._lowest_active()
        if floor is None:
            floor = self._last_idle
        if floor is not None and floor > ten.counter:
            ten.counter = floor

    def _lowest_active(self) -> float | None:
        heap, tenants = self._floor, self._tenants
        while heap:
            counter, version, name = heap[0]
            ten = tenants[name]
            if version == ten.version and ten.active:
                return counter
            heapq.heappop(heap)
        return None

    def _touch(self, ten: _Tenant) -> None:
        """Re-file the tenant in both heaps after any change; its older entries die."""
        ten.version += 1
        if ten.queued:
            heap, live = ten.heap, self._live
            while live.get(heap[0][2]) != heap[0][1]:
                heapq.heappop(heap)
            if len(heap) > 2 * ten.queued + _SLACK:
                ten.heap = [e for e in heap if live.get(e[2]) == e[1]]
                heapq.heapify(ten.heap)
            heapq.heappush(self._pick, (ten.counter, ten.heap[0][0], ten.version, ten.name))
        else:
            ten.heap.clear()
        if ten.active:
            heapq.heappush(self._floor, (ten.counter, ten.version, ten.name))
        if len(self._pick) + len(self._floor) > 4 * len(self._tenants) + _SLACK:
            self._rebuild()

    def _rebuild(self) -> None:
        tenants = self._tenants.values()
        self._pick = [(x.counter, x.heap[0][0], x.version, x.name) for x in tenants if x.queued]
        self._floor = [(x.counter, x.version, x.name) for x in tenants if x.active]
        heapq.heapify(self._pick)
        heapq.heapify(self._floor)
