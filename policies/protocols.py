"""The three extension points of the scheduler, each one small protocol.

A request passes two gates: its tier's ``BatchPolicy`` decides *when* held
tickets enter the model's ready queue (window batching holds them to release a
group together), the model's ``QueuePolicy`` decides *who* gets the next free
slot, and its ``RoutePolicy`` decides *which* backend that slot is on.
Policies are pure: the clock comes in as ``now``, they never do I/O.
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
    """What a tier's batch policy may look at."""

    waiting: Sequence[Ticket]  # this tier's held tickets, oldest first
    inflight: int  # requests in flight on the model's backends (all tiers)
    inflight_tokens: int  # Σ prompt + max_tokens of those requests
    backends: int  # live backends serving the model


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
    its place: policies order by their key, then by ``Ticket.seq``.
    """

    def push(self, t: Ticket) -> None: ...
    def pop(self) -> Ticket | None: ...
    def remove(self, t: Ticket) -> None: ...  # cancellation or timeout; absent → no-op
    def __len__(self) -> int: ...
    def on_dispatch(self, t: Ticket) -> None: ...  # t got a slot (fair share charges prefill)
    def on_finish(self, t: Ticket, usage: Usage) -> None: ...  # t is done (charges output)


@runtime_checkable
class BatchPolicy(Protocol):
    """When, and how many, of a tier's held tickets enter the ready queue."""

    def plan(self, view: QueueView, free_slots: int, now: float) -> Release: ...


@runtime_checkable
class RoutePolicy(Protocol):
    """Which backend gets a dispatched ticket.

    ``backends`` holds only backends that are healthy and have a slot free for
    ``t``; it is never empty, and a router must return one of them.
    """

    def pick(self, t: Ticket, backends: Sequence[BackendView], now: float) -> BackendView: ...
