"""Least loaded: smallest in-flight share of capacity; deterministic ties."""

from __future__ import annotations

import pytest

from policies.route.least_loaded import LeastLoadedRouter
from tests.policies.fakes import FakeBackend, ticket


@pytest.mark.parametrize(
    ("backends", "expected"),
    [
        pytest.param([("a", 8, 4, 0), ("b", 8, 2, 0), ("c", 8, 3, 0)], "b", id="fewest in flight"),
        pytest.param([("a", 16, 6, 0), ("b", 8, 4, 0)], "a", id="relative to capacity"),
        pytest.param([("a", 8, 2, 900), ("b", 8, 2, 300)], "b", id="tie: fewer tokens"),
        pytest.param([("b", 8, 2, 300), ("a", 8, 2, 300)], "a", id="tie: name"),
        pytest.param([("solo", 4, 3, 10)], "solo", id="one candidate"),
    ],
)
def test_picks_the_least_loaded(backends: list[tuple[str, int, int, int]], expected: str) -> None:
    views = [FakeBackend(n, capacity=c, inflight=i, inflight_tokens=k) for n, c, i, k in backends]
    assert LeastLoadedRouter().pick(ticket(), views, 0.0).name == expected


def test_spreads_as_load_follows_picks() -> None:
    router = LeastLoadedRouter()
    backends = [FakeBackend("a", capacity=4), FakeBackend("b", capacity=8)]
    for _ in range(12):
        router.pick(ticket(), backends, 0.0).inflight += 1
    assert [b.inflight for b in backends] == [4, 8]
