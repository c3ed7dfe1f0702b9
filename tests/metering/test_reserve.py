"""Reserved compute: how much of the reserve the reserve-using tiers ran, and what they borrowed.

Two GPUs at $3.60/GPU-hour with a quarter reserved: 0.5 reserved GPU-seconds per second.
"""

from __future__ import annotations

import pytest

from gateway.metering.attribution import BackendCostMeter


def two_gpus(reserve_window: float = 10.0) -> BackendCostMeter:
    return BackendCostMeter(2, 3.6, 0.25, 0.0, reserve_window=reserve_window)


@pytest.mark.parametrize(
    ("reserve_tokens", "general_tokens", "reserve_gpu_s", "used", "borrowed"),
    [
        (10, 10, 10.0, 5.0, 5.0),  # half of 20 GPU-s: the 5 reserved and 5 more
        (1, 9, 2.0, 2.0, 0.0),  # a tenth: well inside the reserve
        (0, 10, 0.0, 0.0, 0.0),
    ],
)
def test_reserve_use_is_capped_at_the_reserve(
    reserve_tokens: int, general_tokens: int, reserve_gpu_s: float, used: float, borrowed: float
) -> None:
    m = two_gpus()
    m.dispatch("r", 0, 0.0, streamed=True, uses_reserve=True)
    m.dispatch("g", 0, 0.0, streamed=True)
    m.tokens("r", reserve_tokens, 0.5)
    m.tokens("g", general_tokens, 0.5)
    assert m.finish("r", 10.0, reserve_tokens).gpu_seconds == reserve_gpu_s
    m.finish("g", 10.0, general_tokens)
    t = m.totals(10.0)
    assert t.reserved_gpu_seconds == 5.0
    assert (t.reserve_used_gpu_seconds, t.reserve_borrowed_gpu_seconds) == (used, borrowed)


@pytest.mark.parametrize(
    ("window", "used", "borrowed"),
    [
        (
            10.0,
            5.0,
            15.0,
        ),  # [0, 10] left its 5 reserved GPU-s unused; [10, 20] may use only its own
        (100.0, 10.0, 10.0),  # one window over both: the burst may use all 10 reserved
    ],
)
def test_unused_reserve_does_not_carry_into_the_next_window(
    window: float, used: float, borrowed: float
) -> None:
    m = two_gpus(reserve_window=window)
    m.dispatch("g", 0, 0.0, streamed=True)
    m.finish("g", 10.0, 0)
    m.dispatch("r", 0, 10.0, streamed=True, uses_reserve=True)
    assert m.finish("r", 20.0, 0).gpu_seconds == 20.0
    t = m.totals(20.0)
    assert t.reserved_gpu_seconds == 10.0
    assert (t.reserve_used_gpu_seconds, t.reserve_borrowed_gpu_seconds) == (used, borrowed)


def test_reserved_compute_accrues_while_idle_and_scales_with_share() -> None:
    m = BackendCostMeter(2, 3.6, 0.25, 0.0, share=0.5)
    t = m.totals(10.0)
    assert (t.reserved_gpu_seconds, t.reserve_used_gpu_seconds, t.gpu_seconds) == (2.5, 0.0, 10.0)


def test_reported_use_never_decreases() -> None:
    """Prometheus exports it as a counter: the open window's part must not fall back at rollover."""
    m = two_gpus(reserve_window=10.0)
    m.dispatch("r", 0, 0.0, streamed=True, uses_reserve=True)
    seen = []
    for now in (3.0, 6.0, 9.0, 12.0, 15.0, 21.0):
        seen.append(m.totals(now).reserve_used_gpu_seconds)
    assert seen == [1.5, 3.0, 4.5, 6.0, 7.5, 10.5]
