"""Round robin: backends take turns, in name order, whatever subset has a free slot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from policies.protocols import BackendView
from policies.ticket import Ticket


class RoundRobinRouter:
    """Picks the backend whose name follows the last pick's, wrapping around.

    Turns follow names rather than list positions because ``backends`` is only
    the subset with a free slot and changes between calls; by name, a backend
    that was full simply loses its turn. O(backends) per pick. No parameters.

    .. code-block:: yaml

        scheduler:
          route: {policy: round_robin}
    """

    kind: ClassVar[str] = "route"
    name: ClassVar[str] = "round_robin"

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: str | None = None

    def pick(self, t: Ticket, backends: Sequence[BackendView], now: float) -> BackendView:
        last = self._last
        first = after = None
        for b in backends:
            if first is None or b.name < first.name:
                first = b
            if last is not None and b.name > last and (after is None or b.name < after.name):
                after = b
        chosen = after if after is not None else first
        if chosen is None:
            raise ValueError("pick() needs at least one backend")
        self._last = chosen.name
        return chosen
