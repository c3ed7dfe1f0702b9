"""Round robin: turns in name order over whichever backends have a free slot."""

from __future__ import annotations

from policies.route.round_robin import RoundRobinRouter
from tests.policies.fakes import FakeBackend, ticket


def test_cycles_through_every_backend() -> None:
    router = RoundRobinRouter()
    backends = [FakeBackend("b"), FakeBackend("c"), FakeBackend("a")]
    picks = [router.pick(ticket(), backends, 0.0).name for _ in range(7)]
    assert picks == ["a", "b", "c", "a", "b", "c", "a"]


def test_a_full_backend_loses_its_turn_only() -> None:
    router = RoundRobinRouter()
    a, b, c = FakeBackend("a"), FakeBackend("b"), FakeBackend("c")
    assert router.pick(ticket(), [a, b, c], 0.0) is a
    assert router.pick(ticket(), [a, c], 0.0) is c  # b is full
    assert router.pick(ticket(), [a, b, c], 0.0) is a
    assert router.pick(ticket(), [b], 0.0) is b
    assert router.pick(ticket(), [a, b, c], 0.0) is c


def test_even_spread_over_many_picks() -> None:
    router = RoundRobinRouter()
    backends = [FakeBackend(f"gpu-{i}") for i in range(5)]
    counts: dict[str, int] = {}
    for _ in range(500):
        name = router.pick(ticket(), backends, 0.0).name
        counts[name] = counts.get(name, 0) + 1
    assert set(counts.values()) == {100}
