"""Slots shared by every gateway replica: leases in the Store, so N replicas together never
exceed a backend's ``capacity`` (nor, for tiers without ``use_reserve``, its general limit).

``acquire`` is the Store's atomic lease script; leases of a replica that dies lapse after
``state.lease_ttl_s`` (the store's heartbeat renews live ones). ``room``/``free`` are hints
for the scheduler, from the occupancy the store last reported, so it asks only when a slot
is likely free:

- after a grant, the global counts it returned (exact at that moment);
- after any release anywhere (``store.on_slot_released``: this replica's own, or another's
  over pub/sub), nothing is known beyond this replica's counts, so the hint turns
  optimistic and the next acquire learns the truth;
- after a refusal, that backend shows no room for the refused class until a release is
  heard or a timer fires: at the refusal's ``next_expiry_s`` (a dead replica's lease
  lapsing) or one heartbeat (``lease_ttl_s / 3``) when it gives none. No faster polling.

YAML: chosen by ``state.kind: redis`` (``memory`` keeps the in-process ``LocalSlots``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gateway.scheduling.slots import LocalSlots
from gateway.state.store import Store
from gateway.upstream.backend import BackendState

_MIN_RETRY_S = 0.05  # a refusal's timer never fires sooner than this


@dataclass(slots=True)
class _Occupancy:
    """The last global counts the store reported for one backend, while they hold."""

    in_use: int | None = None  # None: unknown since a release; trust local counts
    general: int | None = None
    blocked_general: bool = False
    blocked_all: bool = False
    timer: asyncio.TimerHandle | None = None


class SharedSlots:
    """A ``SlotLedger`` over ``Store.acquire_slot``/``release_slot``; see the module docstring."""

    def __init__(self, store: Store, backends: Iterable[BackendState], retry_s: float) -> None:
        self._store = store
        self._backends = {b.name: b for b in backends}
        self._local = LocalSlots()
        self._retry_s = max(retry_s, _MIN_RETRY_S)
        self._seen: dict[str, _Occupancy] = {name: _Occupancy() for name in self._backends}
        self._releases = 0  # releases heard so far: a refusal that raced one is not trusted
        self._unsubscribe = store.on_slot_released(self._released)

    def close(self) -> None:
        self._unsubscribe()
        for seen in self._seen.values():
            if seen.timer is not None:
                seen.timer.cancel()
                seen.timer = None

    # -- hints -------------------------------------------------------------------------------

    def free(self, b: BackendState, general: bool) -> int:
        seen = self._seen[b.name]
        if seen.blocked_all or (general and seen.blocked_general):
            return 0
        local = self._local.free(b, general)
        if seen.in_use is None or seen.general is None:
            return local
        fleet = b.capacity - seen.in_use
        if general:
            fleet = min(fleet, b.general_limit - seen.general)
        return max(0, min(local, fleet))

    def room(self, b: BackendState, general: bool) -> bool:
        return self.free(b, general) > 0

    # -- decisions -----------------------------------------------------------------------------

    async def acquire(self, b: BackendState, lease_id: str, general: bool) -> bool:
        heard = self._releases
        grant = await self._store.acquire_slot(
            b.name, lease_id, general=general, capacity=b.capacity, general_limit=b.general_limit
        )
        seen = self._seen[b.name]
        if heard != self._releases:
            return grant.granted  # a release landed meanwhile: these counts may be stale
        seen.in_use, seen.general = grant.in_use, grant.general_in_use
        if not grant.granted:
            if general and grant.in_use < b.capacity:
                seen.blocked_general = True  # the general limit, not capacity, refused it
            else:
                seen.blocked_all = True
            self._retry_later(b, grant.next_expiry_s)
        return grant.granted

    async def release(self, b: BackendState, lease_id: str, general: bool) -> None:
        await self._store.release_slot(b.name, lease_id)  # the store tells ``_released``

    # -- wake-ups ------------------------------------------------------------------------------

    def _released(self, backend: str) -> None:
        """A slot of ``backend`` was released somewhere: look again (wakes its schedulers)."""
        b = self._backends.get(backend)
        if b is None:
            return
        self._releases += 1
        self._forget(self._seen[backend])
        b.changed()

    def _retry_later(self, b: BackendState, next_expiry_s: float | None) -> None:
        seen = self._seen[b.name]
        if seen.timer is not None:
            seen.timer.cancel()
        delay = self._retry_s if next_expiry_s is None else max(next_expiry_s, _MIN_RETRY_S)
        seen.timer = asyncio.get_running_loop().call_later(delay, self._released, b.name)

    @staticmethod
    def _forget(seen: _Occupancy) -> None:
        seen.in_use = seen.general = None
        seen.blocked_general = seen.blocked_all = False
        if seen.timer is not None:
            seen.timer.cancel()
            seen.timer = None

    def snapshot(self) -> dict[str, Any]:
        """What this replica last heard of each backend's fleet-wide occupancy."""
        return {
            name: {
                "in_use": s.in_use,
                "general_in_use": s.general,
                "blocked": "all" if s.blocked_all else "general" if s.blocked_general else None,
            }
            for name, s in self._seen.items()
        }
