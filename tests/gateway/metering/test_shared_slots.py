"""The shared slot ledger's hints: exact after a grant, closed after a refusal, reopened by any
release (another replica's included) or by a timer, never by polling."""

from __future__ import annotations

import asyncio

from gateway.config.schema import BackendConfig
from gateway.scheduling.shared_slots import SharedSlots
from gateway.state.memory import MemoryStore
from gateway.upstream.backend import BackendState


def backend(capacity: int = 4, reserve: float = 0.25) -> BackendState:
    b = BackendState(
        BackendConfig(name="gpu", url="http://x", models=["m"], capacity=capacity, reserve=reserve)
    )
    b.healthy = True
    return b


async def test_a_refusal_closes_the_class_until_a_release_anywhere_reopens_it() -> None:
    store, b = MemoryStore(), backend()
    ours = SharedSlots(store, [b], retry_s=3600)
    woken = asyncio.Event()
    b.on_change(woken.set)
    # Another replica holds every general slot (3 of 4).
    for i in range(3):
        assert (
            await store.acquire_slot("gpu", f"other{i}", general=True, capacity=4, general_limit=3)
        ).granted
    assert ours.room(b, general=True)  # nothing heard yet: optimistic
    assert not await ours.acquire(b, "mine", general=True)
    assert not ours.room(b, general=True) and ours.free(b, general=True) == 0
    assert ours.room(b, general=False)  # the reserved slot is still free
    assert await ours.acquire(b, "mine-r", general=False)
    assert not ours.room(b, general=False)  # 4 of 4 now, as the grant reported

    await store.release_slot("gpu", "other0")  # the other replica finishes one
    assert woken.is_set()
    assert ours.room(b, general=True)
    assert await ours.acquire(b, "mine", general=True)
    ours.close()


async def test_a_refusal_without_a_release_retries_on_a_timer() -> None:
    store, b = MemoryStore(), backend(capacity=1, reserve=0.0)
    ours = SharedSlots(store, [b], retry_s=0.05)
    assert (
        await store.acquire_slot("gpu", "other", general=True, capacity=1, general_limit=1)
    ).granted
    assert not await ours.acquire(b, "mine", general=True)
    assert not ours.room(b, general=True)
    woken = asyncio.Event()
    b.on_change(woken.set)
    await asyncio.wait_for(woken.wait(), 10)  # the timer, not a release, woke the backend
    assert ours.room(b, general=True)
    ours.close()


async def test_close_stops_listening() -> None:
    store, b = MemoryStore(), backend()
    ours = SharedSlots(store, [b], retry_s=3600)
    ours.close()
    woken = asyncio.Event()
    b.on_change(woken.set)
    await store.acquire_slot("gpu", "x", general=True, capacity=4, general_limit=3)
    await store.release_slot("gpu", "x")
    assert not woken.is_set()
