"""A queued request as the policies see it: plain values, no I/O, no futures.

The scheduler keeps the asyncio side (the future a handler awaits) next to the
ticket; policies only ever order, release and route these values.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, eq=False)
class Ticket:
    """One request waiting for (or holding) a backend slot.

    Identity-hashed (``eq=False``) so policies can keep tickets in sets and dicts
    even when two requests carry identical values.
    """

    id: str
    seq: int  # arrival order within this process; the tie-breaker of every policy
    tenant: str
    tier: str
    model: str
    prompt_tokens: int
    max_tokens: int
    arrival: float  # monotonic seconds
    deadline: float  # queue timeout: not dispatched by then → 429
    ttft_due: float  # when the first token should reach the client (EDF's deadline)
    priority: int = 0  # higher goes first under the ``priority`` queue
    weight: float = 1.0  # share under the ``fair`` queue
    use_reserve: bool = False
    prefix_hash: int | None = None  # hash of the prompt's leading text, for prefix affinity

    @property
    def expected_tokens(self) -> int:
        """Tokens the request may put through the engine: its job size for sjf and budgets."""
        return self.prompt_tokens + self.max_tokens


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens a finished request actually used (prompt includes the cached ones)."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
