"""Prefix affinity: tickets sharing a prompt prefix go to the same backend, for its prefix cache.

Rendezvous (highest-random-weight) hashing picks the backend, and "consistent
hashing with bounded loads" (Mirrokni et al., 2018) keeps one hot prefix from
overloading it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field

from policies.params import PolicyParams
from policies.protocols import BackendView
from policies.route.least_loaded import least_loaded
from policies.ticket import Ticket

_MASK = (1 << 64) - 1


def _mix64(x: int) -> int:
    """splitmix64's finaliser: a fast, well-spread 64-bit mix of ``x``."""
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9 & _MASK
    x = (x ^ (x >> 27)) * 0x94D049BB133111EB & _MASK
    return x ^ (x >> 31)


class PrefixAffinityRouter:
    """Picks the first backend, in the prefix's rendezvous order, that is within the load bound.

    Rendezvous order: backends sorted by ``mix64(prefix_hash ⊕ h(name))``,
    highest first, with ``h`` a stable hash of the name (blake2b, not Python's
    salted ``hash``), so every replica and every restart agrees, and losing a
    backend only moves the prefixes that preferred it.

    Load bound: with ``m`` requests in flight over the candidates and ``C``
    their total capacity, backend ``b`` (capacity ``c_b``) may take the ticket
    while ``inflight_b < (1 + epsilon) · (m + 1) · c_b / C`` (the paper's
    ``inflight_b + 1 ≤ ceil(…)`` for integer counts): at most ``1 + epsilon``
    times its fair share, counting this ticket. Some candidate always passes
    (summing the failures would give ``m ≥ (1 + epsilon)(m + 1)``), so a hot prefix spills
    to its second choice, then its third, and comes back as load evens out.
    Smaller ``epsilon`` balances harder, larger keeps more cache hits.

    A ticket without ``prefix_hash`` goes to the least-loaded backend.

    .. code-block:: yaml

        scheduler:
          route: {policy: prefix_affinity, epsilon: 0.25}
    """

    class Params(PolicyParams):
        epsilon: float = Field(0.25, gt=0, description="allowed excess over the average load")

    kind: ClassVar[str] = "route"
    name: ClassVar[str] = "prefix_affinity"

    __slots__ = ("_name_hashes", "epsilon")

    def __init__(self, *, epsilon: float = 0.25) -> None:
        self.epsilon = epsilon
        self._name_hashes: dict[str, int] = {}

    def ranked(self, prefix_hash: int, backends: Sequence[BackendView]) -> list[BackendView]:
        """``backends`` in the prefix's rendezvous order, most preferred first."""
        key = prefix_hash & _MASK
        return sorted(
            backends, key=lambda b: (_mix64(key ^ self._name_hash(b.name)), b.name), reverse=True
        )

    def pick(self, t: Ticket, backends: Sequence[BackendView], now: float) -> BackendView:
        if t.prefix_hash is None:
            return least_loaded(backends)
        total_inflight = sum(b.inflight for b in backends)
        total_capacity = sum(max(b.capacity, 1) for b in backends)
        share = (1.0 + self.epsilon) * (total_inflight + 1) / total_capacity
        for b in self.ranked(t.prefix_hash, backends):
            if b.inflight < share * max(b.capacity, 1):
                return b
        return least_loaded(backends)  # unreachable by the bound's arithmetic; a safe default

    def _name_hash(self, name: str) -> int:
        h = self._name_hashes.get(name)
        if h is None:
            digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
            h = self._name_hashes[name] = int.from_bytes(digest, "big")
        return h
