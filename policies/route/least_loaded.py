"""Least loaded: the backend with the fewest requests in flight for its capacity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from policies.protocols import BackendView
from policies.ticket import Ticket


def load_key(b: BackendView) -> tuple[float, float, str]:
    """How loaded ``b`` is, smaller first: in-flight share of capacity, then tokens, then name.

    The name makes ties deterministic, so every replica routes alike.
    """
    capacity = max(b.capacity, 1)
    return (b.inflight / capacity, b.inflight_tokens / capacity, b.name)


def least_loaded(backends: Sequence[BackendView]) -> BackendView:
    """The backend with the smallest ``load_key``."""
    return min(backends, key=load_key)


class LeastLoadedRouter:
    """Picks the backend with the smallest ``inflight / capacity``.

    Ties go to fewer ``inflight_tokens / capacity`` (shorter prompts and outputs
    in flight), then to the smaller name. Uses only the gateway's own counts, so
    it is exact for one replica and needs no scraping. No parameters.

    .. code-block:: yaml

        scheduler:
          route: {policy: least_loaded}
    """

    kind: ClassVar[str] = "route"
    name: ClassVar[str] = "least_loaded"

    def pick(self, t: Ticket, backends: Sequence[BackendView], now: float) -> BackendView:
        return least_loaded(backends)
