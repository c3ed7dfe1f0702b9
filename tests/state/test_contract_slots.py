"""Contract: backend slot leases bounded by capacity, general leases by general_limit."""

from __future__ import annotations

from gateway.state.store import SlotGrant, Store


async def acquire(
    store: Store, lease: str, *, general: bool = True, backend: str = "gpu-a"
) -> SlotGrant:
    return await store.acquire_slot(backend, lease, general=general, capacity=3, general_limit=2)


async def test_general_leases_stop_at_general_limit_and_reserve_ones_at_capacity(
    store: Store,
) -> None:
    assert await acquire(store, "g1") == SlotGrant(True, 1, 1)
    assert await acquire(store, "g2") == SlotGrant(True, 2, 2)
    general_full = await acquire(store, "g3")
    assert (general_full.granted, general_full.in_use, general_full.general_in_use) == (
        False,
        2,
        2,
    )
    assert await acquire(store, "r1", general=False) == SlotGrant(True, 3, 2)
    full = await acquire(store, "r2", general=False)
    assert (full.granted, full.in_use) == (False, 3)


async def test_acquiring_a_held_lease_again_is_a_no_op(store: Store) -> None:
    await acquire(store, "g1")
    again = await acquire(store, "g1")
    assert (again.granted, again.in_use, again.general_in_use) == (True, 1, 1)


async def test_release_frees_the_slot_and_tells_listeners(store: Store) -> None:
    released: list[str] = []
    unsubscribe = store.on_slot_released(released.append)
    await acquire(store, "g1")
    await acquire(store, "g2")
    assert not (await acquire(store, "g3")).granted
    await store.release_slot("gpu-a", "g1")
    assert released == ["gpu-a"]
    assert await acquire(store, "g3") == SlotGrant(True, 2, 2)
    await store.release_slot("gpu-a", "never-held")  # harmless
    unsubscribe()
    await store.release_slot("gpu-a", "g2")
    assert released == ["gpu-a"]


async def test_backends_have_separate_slots(store: Store) -> None:
    for lease in ("a1", "a2", "a3"):
        await acquire(store, lease, general=False)
    grant = await acquire(store, "b1", backend="gpu-b")
    assert (grant.granted, grant.in_use) == (True, 1)


async def test_renewing_keeps_leases(store: Store) -> None:
    await acquire(store, "g1")
    await store.renew_leases()
    assert (await acquire(store, "g2")).in_use == 2
