"""Prefix affinity: sticky, spread, minimal disruption, and bounded load."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from policies.route.prefix_affinity import PrefixAffinityRouter
from tests.policies.fakes import PROPERTIES, FakeBackend, ticket

ROOT = Path(__file__).resolve().parents[3]


def fleet(n: int, capacity: int = 64) -> list[FakeBackend]:
    return [FakeBackend(f"gpu-{i}", capacity=capacity) for i in range(n)]


def test_the_same_prefix_goes_to_the_same_backend() -> None:
    router = PrefixAffinityRouter()
    backends = fleet(4)
    for prefix in range(50):
        first = router.pick(ticket(prefix_hash=prefix), backends, 0.0)
        assert all(
            router.pick(ticket(prefix_hash=prefix), backends, 0.0) is first for _ in range(5)
        )


def test_different_prefixes_spread_over_the_fleet() -> None:
    router = PrefixAffinityRouter()
    backends = fleet(4)
    counts = Counter(
        router.pick(ticket(prefix_hash=p * 7919), backends, 0.0).name for p in range(2000)
    )
    assert len(counts) == 4
    assert min(counts.values()) > 400  # 500 each on average


def test_losing_a_backend_only_moves_its_own_prefixes() -> None:
    router = PrefixAffinityRouter()
    backends = fleet(5)
    before = {p: router.pick(ticket(prefix_hash=p), backends, 0.0).name for p in range(1000)}
    survivors = [b for b in backends if b.name != "gpu-2"]
    after = {p: router.pick(ticket(prefix_hash=p), survivors, 0.0).name for p in range(1000)}
    moved = {p for p in before if before[p] != after[p]}
    assert moved == {p for p in before if before[p] == "gpu-2"}


def test_an_overloaded_favourite_spills_to_the_next_choice() -> None:
    router = PrefixAffinityRouter(epsilon=0.25)
    backends = fleet(3, capacity=10)
    first, second, _ = router.ranked(42, backends)
    first.inflight = 6  # with this ticket 7 in flight: bound 1.25 * 7/3 ≈ 2.9 per backend
    assert router.pick(ticket(prefix_hash=42), backends, 0.0) is second
    for b in backends:
        b.inflight = 1  # even load: the favourite is back within its bound
    assert router.pick(ticket(prefix_hash=42), backends, 0.0) is first


@PROPERTIES
@given(
    n=st.integers(2, 6),
    epsilon=st.sampled_from([0.1, 0.25, 1.0]),
    hot=st.integers(0, 2**63),
    requests=st.integers(1, 120),
)
def test_a_hot_prefix_never_loads_a_backend_past_the_bound(
    n: int, epsilon: float, hot: int, requests: int
) -> None:
    """Every request shares one prefix and none finishes: load still stays near average."""
    router = PrefixAffinityRouter(epsilon=epsilon)
    backends = fleet(n, capacity=1000)
    for sent in range(1, requests + 1):
        router.pick(ticket(prefix_hash=hot), backends, 0.0).inflight += 1
        assert max(b.inflight for b in backends) <= (1 + epsilon) * sent / n + 1


def test_no_prefix_means_least_loaded() -> None:
    backends = fleet(3)
    backends[0].inflight, backends[1].inflight, backends[2].inflight = 5, 1, 3
    assert PrefixAffinityRouter().pick(ticket(prefix_hash=None), backends, 0.0) is backends[1]


def test_choices_agree_across_processes() -> None:
    """Replicas must agree: the ranking may not depend on Python's per-process hash salt."""
    code = (
        "from policies.route.prefix_affinity import PrefixAffinityRouter as R\n"
        "from tests.policies.fakes import FakeBackend as B, ticket\n"
        "bs = [B(f'gpu-{i}') for i in range(4)]\n"
        "print(','.join(R().pick(ticket(prefix_hash=p), bs, 0.0).name for p in range(40)))\n"
    )
    here = ",".join(
        PrefixAffinityRouter().pick(ticket(prefix_hash=p), fleet(4), 0.0).name for p in range(40)
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
        cwd=ROOT,
    )
    assert out.stdout.strip() == here
