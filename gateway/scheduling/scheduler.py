"""One scheduler per public model: tickets wait, batch policies release, slots are handed out.

Two stages. Each tier's ``BatchPolicy`` holds that tier's tickets until it
releases them (window batching releases a group together); released tickets
wait in the model's ready queues, ordered by the ``QueuePolicy``, for a slot
that the ``RoutePolicy`` places on a backend. There are two ready queues, one
per slot class: tiers without ``use_reserve`` may only take general slots;
reserve-using tiers take reserved slots first and borrow general slots only
when no general ticket is waiting (no preemption: a borrowed slot is held to
the end of its request).

A tier with a TTFT floor and ``dispatch_lead_ms`` spends the floor in the queue,
not on a slot: a released group enters the ready queue no earlier than its
oldest ticket's ``arrival + hold`` (``hold`` = floor - lead, see
``TierConfig.dispatch_hold_s``). Until then it is *gated*. Without the gate a
floor tier holds engine slots idle for the whole floor while its finished
output waits in the relay, and a flood of it keeps faster tiers out.

The dispatch loop is one task that sleeps on an event: arrivals, releases,
cancellations, health changes and timers (a batch window closing, a queue
deadline) set it. It never polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.scheduling.held import HeldTickets
from gateway.scheduling.slots import SlotLedger
from gateway.upstream.backend import BackendState
from policies.protocols import BatchPolicy, QueuePolicy, QueueView, RoutePolicy
from policies.ticket import Ticket, Usage

_HELD, _GATED, _READY, _DONE = 0, 1, 2, 3


class QueueTimeout(Exception):
    """Not dispatched before the ticket's deadline."""

    def __init__(self, retry_after_s: float, no_backend: bool) -> None:
        super().__init__("queue timeout")
        self.retry_after_s = retry_after_s
        self.no_backend = no_backend


class NoLiveBackend(Exception):
    """No healthy backend serves the model right now."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__("no live backend")
        self.retry_after_s = retry_after_s


@dataclass(slots=True)
class Grant:
    """A slot on a backend, held until ``Scheduler.release``."""

    backend: BackendState
    lease_id: str
    general: bool  # counts against the backend's general limit
    reserved: bool  # sits inside the reserved share (a reserve tier not borrowing)
    queued_s: float
    dispatched_at: float


@dataclass(slots=True, eq=False)
class _Waiter:
    ticket: Ticket
    future: asyncio.Future[Grant]
    exclude: frozenset[str]
    enqueued: float
    stage: int = _HELD


@dataclass(slots=True)
class SchedulerPolicies:
    """What a scheduler runs; swapped whole on hot reload."""

    queue_factory: Callable[[], QueuePolicy]
    router: RoutePolicy
    batchers: Mapping[str, BatchPolicy]  # by tier name
    default_batcher: BatchPolicy
    holds: Mapping[str, float] = field(default_factory=dict)  # tier → seconds gated after arrival


@dataclass(slots=True)
class _Rate:
    """Events per second over the last 64, measured up to now (a lull since the last counts)."""

    stamps: deque[float] = field(default_factory=lambda: deque(maxlen=64))

    def add(self, now: float) -> None:
        self.stamps.append(now)

    def per_s(self, now: float) -> float:
        if not self.stamps:
            return 0.0
        return len(self.stamps) / max(now - self.stamps[0], 1e-3)


class Scheduler:
    def __init__(
        self,
        model: str,
        backends: Sequence[BackendState],
        policies: SchedulerPolicies,
        slots: SlotLedger,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model = model
        self.backends = list(backends)
        self.slots = slots
        self.clock = clock
        self._policies = policies
        self._ready: dict[bool, QueuePolicy] = {
            True: policies.queue_factory(),
            False: policies.queue_factory(),
        }
        self._held: dict[str, HeldTickets] = {}
        self._gated: list[tuple[float, int, Ticket]] = []  # (gate opens, seq, ticket), lazy removal
        self._n_gated = 0
        self._released_tokens: dict[str, int] = {}  # by tier: gated or ready, not dispatched
        self._waiters: dict[Ticket, _Waiter] = {}
        self._deadlines: list[tuple[float, int, Ticket]] = []
        self._wake = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._task: asyncio.Task[None] | None = None
        self._rate = _Rate()  # dispatches, for the state report
        self._freed = _Rate()  # slots given back: what a waiting ticket really waits for
        self._watchers: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        self._lease_seq = itertools.count()
        self.dispatched = 0
        self.timed_out = 0
        for b in self.backends:
            b.on_change(self.wake)

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"scheduler:{self.model}"
            )

    async def stop(self) -> None:
        for b in self.backends:
            b.drop_listener(self.wake)
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        self._wake.set()

    def swap_policies(self, policies: SchedulerPolicies) -> None:
        """Hot reload: new policies; queued tickets move over in arrival order, none dropped."""
        old = self._policies
        self._policies = policies
        if policies.queue_factory is not old.queue_factory:
            for general, q in list(self._ready.items()):
                fresh = policies.queue_factory()
                drained = []
                while (t := q.pop()) is not None:
                    drained.append(t)
                for t in sorted(drained, key=lambda t: t.seq):
                    fresh.push(t)
                self._ready[general] = fresh
        self.wake()

    # -- the request side ----------------------------------------------------------

    def live(self) -> list[BackendState]:
        return [b for b in self.backends if b.healthy]

    async def acquire(self, ticket: Ticket, exclude: frozenset[str] = frozenset()) -> Grant:
        """Wait for a slot (or NoLiveBackend, QueueTimeout); a cancelled caller leaves the queue."""
        now = self.clock()
        if not any(b.healthy and b.name not in exclude for b in self.backends):
            raise NoLiveBackend(self._retry_after(now))
        future: asyncio.Future[Grant] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(ticket, future, exclude, now)
        self._waiters[ticket] = waiter
        if exclude:
            # A retry already waited its turn: it skips the batch stage.
            waiter.stage = _READY
            self._count_released(ticket, 1)
            self._ready[not ticket.use_reserve].push(ticket)
        else:
            self._held.setdefault(ticket.tier, HeldTickets()).add(ticket)
        heapq.heappush(self._deadlines, (ticket.deadline, ticket.seq, ticket))
        self._wake.set()
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled() and future.exception() is None:
                # Granted in the same instant the client left: give the slot back.
                grant = future.result()
                asyncio.get_running_loop().create_task(self.release(grant, ticket, None))
            else:
                self._forget(waiter)
            raise

    async def release(self, grant: Grant, ticket: Ticket, usage: Usage | None) -> None:
        """Return a slot; ``usage`` (None when nothing ran) feeds fair-share counters."""
        b = grant.backend
        if grant.general:
            b.general_inflight -= 1
        else:
            b.reserve_inflight -= 1
            if grant.reserved:
                b.reserved_inflight -= 1
        b.inflight_tokens -= ticket.expected_tokens
        self._freed.add(self.clock())
        self._ready[not ticket.use_reserve].on_finish(ticket, usage)
        try:
            await self.slots.release(b, grant.lease_id, grant.general)
        finally:
            b.changed()

    # -- introspection ---------------------------------------------------------------

    def waiting(self) -> int:
        return len(self._waiters)

    def waiting_by_tier(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for w in self._waiters.values():
            out[w.ticket.tier] = out.get(w.ticket.tier, 0) + 1
        return out

    def snapshot(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "waiting": self.waiting(),
            "held": {tier: len(h) for tier, h in self._held.items() if h},
            "gated": self._n_gated,
            "ready": {"general": len(self._ready[True]), "reserve": len(self._ready[False])},
            "waiting_by_tier": self.waiting_by_tier(),
            "dispatched": self.dispatched,
            "timed_out": self.timed_out,
            "dispatch_rate_per_s": round(self._rate.per_s(self.clock()), 3),
        }

    # -- the dispatch loop ------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._pass()

    async def _pass(self) -> None:
        now = self.clock()
        wake_at = self._expire(now)
        wake_at = min(wake_at, self._release_batches(now))
        wake_at = min(wake_at, self._open_gates(now))
        await self._dispatch(general=True)
        await self._dispatch(general=False)
        self._arm(wake_at)
        self._notify_watchers()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds, re-checked after every dispatch pass (no polling).

        For tests and tools that must see a scheduler state (tickets held, a group released).
        """
        if predicate():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._watchers.append(entry)
        try:
            await future
        finally:
            if entry in self._watchers:
                self._watchers.remove(entry)

    def _notify_watchers(self) -> None:
        for predicate, future in list(self._watchers):
            if not future.done() and predicate():
                future.set_result(None)

    def _expire(self, now: float) -> float:
        """Fail tickets past their deadline; return the next deadline."""
        dl = self._deadlines
        while dl:
            deadline, _, ticket = dl[0]
            waiter = self._waiters.get(ticket)
            if waiter is None or waiter.stage == _DONE:
                heapq.heappop(dl)
                continue
            if deadline > now:
                return deadline
            heapq.heappop(dl)
            self._forget(waiter)
            self.timed_out += 1
            no_backend = not self.live()
            retry = self._retry_after(now, waited=now - waiter.enqueued)
            waiter.future.set_exception(QueueTimeout(retry, no_backend))
        return math.inf

    def _release_batches(self, now: float) -> float:
        live = self.live()
        if not live:
            return math.inf
        inflight = sum(b.inflight for b in live)
        inflight_tokens = sum(b.inflight_tokens for b in live)
        free = {
            general: sum(self.slots.free(b, general) for b in live) - len(self._ready[general])
            for general in (True, False)
        }
        wake_at = math.inf
        policies = self._policies
        for tier, held in self._held.items():
            if not held:
                continue
            general = not held[0].use_reserve
            view = QueueView(
                held, inflight, inflight_tokens, len(live), self._released_tokens.get(tier, 0)
            )
            batcher = policies.batchers.get(tier, policies.default_batcher)
            decision = batcher.plan(view, max(free[general], 0), now)
            if decision.count > 0:
                group = held.take(decision.count)
                for t in group:
                    self._count_released(t, 1)
                gate = group[0].arrival + policies.holds.get(tier, 0.0)  # the oldest's gate
                if gate > now:
                    for t in group:
                        self._waiters[t].stage = _GATED
                        heapq.heappush(self._gated, (gate, t.seq, t))
                    self._n_gated += len(group)
                else:
                    queue = self._ready[general]
                    for t in group:
                        self._waiters[t].stage = _READY
                        queue.push(t)
                    free[general] -= decision.count
            if decision.wake_at is not None and held:
                wake_at = min(wake_at, decision.wake_at)
        return wake_at

    def _open_gates(self, now: float) -> float:
        """Move gated tickets whose gate opened into their ready queue; return the next gate."""
        gated = self._gated
        while gated:
            gate, _, t = gated[0]
            waiter = self._waiters.get(t)
            if waiter is None or waiter.stage != _GATED:
                heapq.heappop(gated)  # left while gated; already uncounted
                continue
            if gate > now:
                return gate
            heapq.heappop(gated)
            waiter.stage = _READY
            self._n_gated -= 1
            self._ready[not t.use_reserve].push(t)
        return math.inf

    async def _dispatch(self, general: bool) -> None:
        queue = self._ready[general]
        router = self._policies.router
        deferred: list[Ticket] = []
        while len(queue):
            candidates = [b for b in self.backends if b.healthy and self._may_take(b, general)]
            if not candidates:
                break
            t = queue.pop()
            if t is None:
                break
            waiter = self._waiters.get(t)
            if waiter is None or waiter.stage != _READY:
                continue  # cancelled while we looked away
            if waiter.exclude:
                candidates = [b for b in candidates if b.name not in waiter.exclude]
                if not candidates:
                    deferred.append(t)
                    continue
            b = candidates[0] if len(candidates) == 1 else router.pick(t, candidates, self.clock())
            lease_id = f"{t.id}:{next(self._lease_seq)}"
            if not await self.slots.acquire(b, lease_id, general):
                queue.push(t)  # another replica took it; the ledger now shows b full
                continue
            if waiter.stage != _READY or waiter.future.done():
                await self.slots.release(b, lease_id, general)  # left while we awaited the lease
                continue
            self._grant(waiter, b, lease_id, general)
        for t in deferred:
            queue.push(t)

    def _may_take(self, b: BackendState, general: bool) -> bool:
        if not self.slots.room(b, general):
            return False
        if general:
            return True
        # Reserve tiers take reserved slots freely, general ones only when no general ticket waits.
        return b.reserved_inflight < b.reserved_slots or not len(self._ready[True])

    def _grant(self, waiter: _Waiter, b: BackendState, lease_id: str, general: bool) -> None:
        t = waiter.ticket
        now = self.clock()
        reserved = False
        if general:
            b.general_inflight += 1
        else:
            reserved = b.reserved_inflight < b.reserved_slots
            b.reserve_inflight += 1
            if reserved:
                b.reserved_inflight += 1
        b.inflight_tokens += t.expected_tokens
        self._ready[general].on_dispatch(t)
        self._count_released(t, -1)
        waiter.stage = _DONE
        del self._waiters[t]
        self.dispatched += 1
        self._rate.add(now)
        waiter.future.set_result(Grant(b, lease_id, general, reserved, now - waiter.enqueued, now))

    def _forget(self, waiter: _Waiter) -> None:
        t = waiter.ticket
        if waiter.stage == _HELD:
            held = self._held.get(t.tier)
            if held is not None:
                held.discard(t)
        elif waiter.stage == _GATED:
            self._n_gated -= 1  # its heap entry dies in place
            self._count_released(t, -1)
        elif waiter.stage == _READY:
            self._ready[not t.use_reserve].remove(t)
            self._count_released(t, -1)
        waiter.stage = _DONE
        self._waiters.pop(t, None)
        self._wake.set()  # a window batcher may now release a different group

    def _count_released(self, t: Ticket, sign: int) -> None:
        """Keep ``QueueView.ready_tokens`` as a running sum, not a scan of every waiter per pass."""
        tier = t.tier
        self._released_tokens[tier] = self._released_tokens.get(tier, 0) + sign * t.expected_tokens

    def _arm(self, when: float) -> None:
        """One timer for the earliest future event; re-armed only when it moves earlier."""
        if when == math.inf:
            return
        if self._timer is not None and self._timer_at <= when and self._timer_at > self.clock():
            return
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        delay = max(0.0, when - self.clock())
        self._timer_at = when
        self._timer = loop.call_later(delay + 0.0005, self._fire)  # uvloop timers have ms ticks

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = math.inf
        self._wake.set()

    def _retry_after(self, now: float, waited: float = 1.0) -> float:
        """Whole seconds until the queue ahead would drain at the rate slots recently freed.

        The rate is of releases, not dispatches: when every slot is held by long requests a
        burst of past dispatches says nothing about when the next slot frees. With no release
        seen at all, the ticket waited ``waited`` without one freeing: at least that long.
        """
        rate = self._freed.per_s(now)
        if rate <= 0:
            return float(min(60, max(1, math.ceil(waited))))
        return float(min(60, max(1, math.ceil((len(self._waiters) + 1) / rate))))
