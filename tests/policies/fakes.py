"""What the policy tests feed the policies: tickets with defaults, a backend view, settings."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hypothesis import HealthCheck, settings

from policies.protocols import EngineLoad
from policies.ticket import Ticket

# Deterministic and quick: a fixed seed, no example database written into the checkout.
PROPERTIES = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=50,
    suppress_health_check=[HealthCheck.too_slow],
)

_seqs = itertools.count(1_000_000)  # explicit seqs in tests stay below this


def ticket(
    seq: int | None = None,
    *,
    tenant: str = "t",
    tier: str = "std",
    prompt_tokens: int = 100,
    max_tokens: int = 100,
    arrival: float = 0.0,
    ttft_due: float | None = None,
    priority: int = 0,
    weight: float = 1.0,
    prefix_hash: int | None = None,
) -> Ticket:
    """A ticket; ``seq`` defaults to a fresh, increasing number."""
    seq = next(_seqs) if seq is None else seq
    return Ticket(
        id=f"req-{seq}",
        seq=seq,
        tenant=tenant,
        tier=tier,
        model="m",
        prompt_tokens=prompt_tokens,
        max_tokens=max_tokens,
        arrival=arrival,
        deadline=arrival + 60.0,
        ttft_due=arrival + 1.0 if ttft_due is None else ttft_due,
        priority=priority,
        weight=weight,
        prefix_hash=prefix_hash,
    )


@dataclass
class FakeBackend:
    """A ``BackendView`` with plain, settable fields."""

    name: str
    capacity: int = 8
    inflight: int = 0
    inflight_tokens: int = 0
    engine_load: EngineLoad | None = None
