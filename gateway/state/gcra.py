"""GCRA (a token bucket holding one minute's quota) for requests and tokens of one key (pure).

``lua/rate_limit.lua`` mirrors this step for step, in the same floating-point operations, so
the memory and Redis stores give identical numbers (the contract suite checks it). Times are
integer microseconds. A limit L per window W admits cost n iff ``max(tat, now) + n*W/L - now <= W``
where ``tat`` (theoretical arrival time) is stored per limit; the bucket is full when tat <= now.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gateway.state.store import RateDecision, RateLimits

WINDOW_US = 60_000_000
EPS_US = 1.0  # tolerance for float rounding in n*W/L
_REMAINING_EPS = 1e-6  # (W - used)/interval lands a hair under an integer through rounding


@dataclass(frozen=True, slots=True)
class GcraStep:
    """The decision plus the TATs to store when allowed (None for a limit that is not set)."""

    decision: RateDecision
    tats: tuple[int | None, int | None]


def gcra_step(
    now_us: int, limits: RateLimits, tokens: int, tats: tuple[int, int], window_us: int = WINDOW_US
) -> GcraStep:
    pairs = ((limits.rpm, 1), (limits.tpm, tokens))
    allowed, too_large, retry = True, False, 0
    bases: list[float] = [0.0, 0.0]
    fresh: list[float] = [0.0, 0.0]
    for i, (limit, cost) in enumerate(pairs):
        if limit is None:
            continue
        interval = window_us / limit
        bases[i] = max(tats[i], now_us)
        fresh[i] = bases[i] + cost * interval
        if cost > limit:
            allowed, too_large = False, True
            retry = max(retry, window_us)
        elif fresh[i] - now_us > window_us + EPS_US:
            allowed = False
            retry = max(retry, math.ceil(fresh[i] - now_us - window_us))
    remaining: list[int | None] = [None, None]
    reset: list[int | None] = [None, None]
    stored: list[int | None] = [None, None]
    for i, (limit, _) in enumerate(pairs):
        if limit is None:
            continue
        after = math.ceil(fresh[i]) if allowed else bases[i]
        stored[i] = int(after)
        interval = window_us / limit
        left = math.floor((window_us - (after - now_us)) / interval + _REMAINING_EPS)
        remaining[i] = min(limit, max(0, left))
        reset[i] = int(max(0, after - now_us))
    return GcraStep(
        decision=rate_decision(
            limits,
            allowed=allowed,
            too_large=too_large,
            retry_us=retry,
            remaining=remaining,
            reset_us=reset,
        ),
        tats=(stored[0], stored[1]),
    )


def rate_decision(
    limits: RateLimits,
    *,
    allowed: bool,
    too_large: bool,
    retry_us: int,
    remaining: list[int | None],
    reset_us: list[int | None],
) -> RateDecision:
    """Assemble a decision from the integer results shared by gcra_step and rate_limit.lua."""

    def seconds(us: int | None) -> float | None:
        return None if us is None else us / 1e6

    return RateDecision(
        allowed=allowed,
        retry_after_s=0.0 if allowed else retry_us / 1e6,
        limit_requests=limits.rpm,
        remaining_requests=remaining[0],
        reset_requests_s=seconds(reset_us[0]),
        limit_tokens=limits.tpm,
        remaining_tokens=remaining[1],
        reset_tokens_s=seconds(reset_us[1]),
        too_large=too_large,
    )
