"""Reserved compute: GPU time a backend holds for reserve-using tiers, and how much they ran.

A backend reserves ``reserve · gpus`` GPU-seconds per second. Integer bookkeeping in the
attribution meter's unit (GPU-attoseconds), fed once per closed interval.
"""

from __future__ import annotations

from gateway.metering.pricing import usd_to_nano


class ReserveLedger:
    """reserved = reserve · elapsed GPU time; used = Σ_windows min(tiers' GPU time, reserved);
    borrowed = tiers' GPU time - used (what they ran on general capacity).

    Capped per window of ``window`` seconds, not per interval and not over all time: intervals
    are milliseconds long and token-weighted, so one interval's share swings from 0 to 100 %
    and a per-interval cap would under-count steady use; an all-time cap would let a burst
    claim reserve that sat idle hours ago. Within a window the noise averages out, and unused
    reserve of one window cannot be claimed in another. ``used`` only grows, so it exports as
    a counter: the open window's min() rises with both of its sums and is kept at rollover.
    """

    __slots__ = (
        "_closed_used",
        "_ppb",
        "_window",
        "_window_reserved",
        "_window_start",
        "_window_tier",
        "reserved",
        "tier",
    )

    def __init__(self, reserve: float, start: float, window: float) -> None:
        if not 0 <= reserve < 1 or not window > 0:
            raise ValueError(f"need 0 <= reserve < 1 and window > 0: {reserve=} {window=}")
        self._ppb = usd_to_nano(reserve)  # parts per billion: the same exact decimal conversion
        self._window = window
        self._window_start = start
        self._window_reserved = 0
        self._window_tier = 0
        self._closed_used = 0
        self.reserved = 0  # GPU-attoseconds held back so far
        self.tier = 0  # GPU-attoseconds attributed to reserve-using requests so far

    def add(self, gpu: int, tier: int, now: float) -> None:
        """An interval closed at ``now``: ``gpu`` elapsed, of which reserve tiers ran ``tier``."""
        reserved = gpu * self._ppb // 1_000_000_000
        self.reserved += reserved
        self.tier += tier
        self._window_reserved += reserved
        self._window_tier += tier
        if now - self._window_start >= self._window:
            self._closed_used += min(self._window_tier, self._window_reserved)
            self._window_start, self._window_reserved, self._window_tier = now, 0, 0

    @property
    def used(self) -> int:
        return self._closed_used + min(self._window_tier, self._window_reserved)

    @property
    def borrowed(self) -> int:
        return self.tier - self.used
