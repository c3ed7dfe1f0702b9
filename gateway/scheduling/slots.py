"""Backend slots: who may hold one, and the ledger that hands them out.

A backend has ``capacity`` slots. Tiers without ``use_reserve`` (the general
class) may hold at most ``general_limit`` = floor((1 - reserve) · capacity) of
them; reserve-using tiers may hold any slot. The local ledger counts in
process; the shared ledger (``shared_slots.py``, leases in the Store) makes
several replicas share one backend's capacity. ``Gateway`` picks the shared one
when ``state.kind`` is ``redis``.
"""

from __future__ import annotations

from typing import Any, Protocol

from gateway.upstream.backend import BackendState


class SlotLedger(Protocol):
    def room(self, b: BackendState, general: bool) -> bool:
        """A slot of this class looks free on ``b`` (a hint; ``acquire`` decides)."""
        ...

    def free(self, b: BackendState, general: bool) -> int: ...

    async def acquire(self, b: BackendState, lease_id: str, general: bool) -> bool: ...

    async def release(self, b: BackendState, lease_id: str, general: bool) -> None: ...

    def close(self) -> None:
        """Stop listening for releases and drop timers (the gateway is stopping)."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """For ``/admin/state``: what the ledger knows beyond this replica's own counts."""
        ...


class LocalSlots:
    """Slots counted in this process: exact for a single replica."""

    def free(self, b: BackendState, general: bool) -> int:
        total_free = b.capacity - b.inflight
        if general:
            return max(0, min(total_free, b.general_limit - b.general_inflight))
        return max(0, total_free)

    def room(self, b: BackendState, general: bool) -> bool:
        return self.free(b, general) > 0

    async def acquire(self, b: BackendState, lease_id: str, general: bool) -> bool:
        return self.room(b, general)

    async def release(self, b: BackendState, lease_id: str, general: bool) -> None:
        return None

    def close(self) -> None:
        return None

    def snapshot(self) -> dict[str, Any]:
        return {}
