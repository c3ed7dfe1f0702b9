"""A tier's held tickets: arrival order, O(1) append/remove, and a Sequence view for batchers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from typing import overload

from policies.ticket import Ticket


class HeldTickets(Sequence[Ticket]):
    """Insertion-ordered set of tickets; ``[0]`` and ``len`` are O(1), ``[i]`` is O(i).

    Batch policies look at the oldest few tickets; cancellation and timeouts remove
    from anywhere, which a deque would make O(n).
    """

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: dict[Ticket, None] = {}

    def add(self, t: Ticket) -> None:
        self._items[t] = None

    def discard(self, t: Ticket) -> bool:
        return self._items.pop(t, 0) is None

    def take(self, count: int) -> list[Ticket]:
        """Remove and return the ``count`` oldest tickets."""
        out = list(islice(self._items, count))
        for t in out:
            del self._items[t]
        return out

    def __contains__(self, t: object) -> bool:
        return t in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Ticket]:
        return iter(self._items)

    @overload
    def __getitem__(self, i: int) -> Ticket: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Ticket]: ...
    def __getitem__(self, i: int | slice) -> Ticket | Sequence[Ticket]:
        if isinstance(i, slice):
            return list(self._items)[i]
        n = len(self._items)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("held ticket index out of range")
        return next(islice(self._items, i, None))
