"""The three extension points of the scheduler, each one small protocol.

A request passes two gates: its tier's ``BatchPolicy`` decides *when* held
tickets enter the model's ready queue (window batching holds them to release a
group together), the model's ``QueuePolicy`` decides *who* gets the next free
slot, and its ``RoutePolicy`` decides *which* backend that slot is on.
Policies are pure: the clock comes in as ``now``, they never do I/O. Each
policy class also carries ``name`` and ``kind`` and may nest a pydantic
``Params``: that is how ``policies.registry`` builds it from config.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from policies.ticket import Ticket, Usage


@dataclass(frozen=True, slots=True)
class Release:
    """A batch decision: release ``count`` held tickets now, ask again at ``wake_at``.

    ``wake_at`` is an absolute time on the scheduler's clock, or None when only a
    new arrival or a freed slot could change the answer.
    """

    count: int
    wake_at: float | None = None


@dataclass(frozen=True, slots=True)
class QueueView:
    """What a tier's batch policy may look at.

    ``ready_tokens`` closes a gap a token budget would otherwise fall into: tickets
    it released that still wait in the ready queue (no free slot yet) are in
    neither ``waiting`` nor ``inflight_tokens``, so without it every pass would
    release the same budget again.
    """

    waiting: Sequence[Ticket]  # this tier's held tickets, oldest first
    inflight: int  # requests in flight on the model's backends (all tiers)
    inflight_tokens: int  # Σ prompt + max_tokens of those requests
    backends: int  # live backends serving the model
    ready_tokens: int = 0  # Σ expected_tokens of this tier's released, not yet dispatched tickets


@dataclass(frozen=True, slots=True)
class EngineLoad:
    """A backend engine's own view of its load, scraped from its ``/metrics``."""

    waiting: float  # vllm:num_requests_waiting
    running: float  # vllm:num_requests_running
    kv_cache_usage: float  # vllm:kv_cache_usage_perc, 0..1
    scraped_at: float  # on the scheduler's clock


class BackendView(Protocol):
    """A backend as a router sees it (read-only)."""

    @property
    def name(self) -> str: ...
    @property
    def capacity(self) -> int: ...
    @property
    def inflight(self) -> int: ...
    @property
    def inflight_tokens(self) -> int: ...
    @property
    def engine_load(self) -> EngineLoad | None: ...


@runtime_checkable
class QueuePolicy(Protocol):
    """Who goes next among released tickets.

    ``pop`` only removes; it has no other side effect, so the scheduler may push
    a popped ticket back (a slot lease lost to another replica) and it returns to
    its place: policies order by their key, then by ``Ticket.seq``. Pushing a
    ticket that is already queued is a no-op. A popped ticket ends in exactly one
    of ``push`` (back), ``remove`` (it left) or ``on_dispatch``; every dispatched
    ticket ends in exactly one ``on_finish``, with ``usage`` None when nothing
    ran (an upstream failure before any token): stateful queues (fair share)
    count a tenant as active until then. Both hooks tolerate tickets this
    instance never saw (a queue swapped in by a hot reload).
    """

    def push(self, t: Ticket) -> None: ...
    def pop(self) -> Ticket | None: ...
    def remove(self, t: Ticket) -> None: ...  # cancellation or timeout; absent → no-op
    def __len__(self) -> int: ...  # queued tickets (popped ones are not counted)
    def on_dispatch(self, t: Ticket) -> None: ...  # t got a slot (fair share charges prefill)
    def on_finish(self, t: Ticket, usage: Usage | None) -> None: ...  # t is done (charges output)


@runtime_checkable
class BatchPolicy(Protocol):
    """When, and how many, of a tier's held tickets enter the ready queue."""

    def plan(self, view: QueueView, free_slots: int, now: float) -> Release: ...


@runtime_checkable
class RoutePolicy(Protocol):
    """Which backend gets a dispatched ticket.

    ``backends`` holds only backends that are healthy and have a slot free for
    ``t``; it is never empty, and a router must return one of them.

    A router that reads ``BackendView.engine_load`` sets the attribute
    ``metrics_interval_s: float`` (seconds): the gateway then scrapes every
    backend's ``/metrics`` that often (the shortest interval any router asks for)
    and fills ``engine_load``. Without the attribute, or with None, nothing is
    scraped and ``engine_load`` stays None.
    """

    def pick(self, t: Ticket, backends: Sequence[BackendView], now: float) -> BackendView: ...
