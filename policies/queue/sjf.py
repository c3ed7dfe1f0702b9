"""Shortest expected job first, with aging so a long job cannot wait forever."""

from __future__ import annotations

from pydantic import Field

from policies.params import PolicyParams
from policies.queue.keyed import KeyedQueue
from policies.ticket import Ticket


class ShortestJobQueue(KeyedQueue):
    """Pops the smallest aged size; among equals, the earliest ``seq``.

    Size is ``prompt_tokens + max_tokens`` (``Ticket.expected_tokens``). Waiting
    shrinks a ticket's effective size by ``aging_tokens_per_s`` tokens per
    second: at time ``now`` a ticket ranks by ``size - alpha·(now - arrival)``. That
    differs from ``size + alpha·arrival`` by ``alpha·now``, the same for every ticket, so
    the heap keys on the time-invariant ``size + alpha·arrival``.

    Bound: a job of size ``L`` arriving at ``a`` goes before every job that
    arrives after ``a + (L - s)/alpha`` with size ``s``, so it waits at most for the
    jobs that arrived before that moment (the ones queued with it, plus those
    arriving within ``L/alpha`` seconds).

    .. code-block:: yaml

        scheduler:
          queue: {policy: sjf, aging_tokens_per_s: 200}
    """

    class Params(PolicyParams):
        aging_tokens_per_s: float = Field(
            100.0, gt=0, description="alpha: tokens of size forgiven per second waited"
        )

    name = "sjf"
    __slots__ = ("_alpha",)

    def __init__(self, *, aging_tokens_per_s: float = 100.0) -> None:
        super().__init__()
        self._alpha = aging_tokens_per_s

    def key(self, t: Ticket) -> float:
        return t.expected_tokens + self._alpha * t.arrival
