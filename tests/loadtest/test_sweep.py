"""The saturation rule on hand-made sweep steps."""

from __future__ import annotations

from typing import Any

import pytest

from loadtest.profiles import SaturationRule, SweepProfile
from loadtest.sweep import saturation

RULE = SaturationRule(min_gain=0.25, max_error_rate=0.05, latency_factor=10)


def step(load: float, tput: float, p99: float = 50.0, errors: float = 0.0) -> dict[str, Any]:
    return {"load": load, "request_throughput": tput, "p99_latency_ms": p99, "error_rate": errors}


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([step(10, 9.8), step(20, 19.7), step(40, 39.0)], None),
        # 40 → 80 req/s (2x) must gain ≥ 25 %: 39 → 45 is only 15 %
        ([step(10, 9.8), step(20, 19.7), step(40, 39.0), step(80, 45.0)], 3),
        ([step(10, 9.8), step(20, 19.7, errors=0.06)], 1),
        ([step(10, 9.8, p99=40), step(20, 19.9, p99=401)], 1),
        ([step(10, 9.8, p99=40), step(20, 19.9, p99=399)], None),
        ([step(10, 5.0, errors=0.5)], 0),
    ],
)
def test_saturation(steps: list[dict[str, Any]], expected: int | None) -> None:
    found = saturation(steps, RULE)
    assert (found[0] if found else None) == expected


def test_saturation_reason_names_the_cause() -> None:
    found = saturation([step(10, 9.8), step(20, 19.7, errors=0.5)], RULE)
    assert found is not None and "failed" in found[1]


def test_sweep_profile_steps() -> None:
    p = SweepProfile(arrival="gamma", loads=[1, 2, 4], cv=3, max_concurrency=8)
    steps = p.steps()
    assert [s.kind for s in steps] == ["gamma"] * 3
    assert [s.load for s in steps] == [1, 2, 4]
    assert all(s.cv == 3 and s.max_concurrency == 8 for s in steps)  # type: ignore[union-attr]
    users = SweepProfile(arrival="concurrency", loads=[1, 8]).steps()
    assert [s.kind for s in users] == ["concurrency"] * 2
    with pytest.raises(ValueError, match="increasing"):
        SweepProfile(loads=[4, 2])
    with pytest.raises(ValueError, match="whole numbers"):
        SweepProfile(arrival="concurrency", loads=[1.5])
