"""Metric arithmetic on hand-made numbers, with vLLM's names."""

from __future__ import annotations

import numpy as np
import pytest

from loadtest.metrics import (
    SLOTargets,
    bin_width,
    distribution,
    error_counts,
    meets_slo,
    percentile_key,
    rate,
    timeline,
    tokens_per_s_per_user,
    tpot_ms,
)


def test_distribution_names_and_values() -> None:
    d = distribution("ttft_ms", list(range(1, 101)))  # 1..100
    assert d["mean_ttft_ms"] == 50.5
    assert d["median_ttft_ms"] == 50.5
    assert d["p50_ttft_ms"] == 50.5
    # linear interpolation between order statistics: 1 + 0.9·99 and 1 + 0.99·99
    assert d["p90_ttft_ms"] == pytest.approx(90.1)
    assert d["p99_ttft_ms"] == pytest.approx(99.01)
    assert d["std_ttft_ms"] == pytest.approx(np.sqrt((100**2 - 1) / 12))


def test_distribution_of_nothing_is_none_not_zero() -> None:
    d = distribution("itl_ms", [])
    assert set(d) == {
        "mean_itl_ms",
        "median_itl_ms",
        "std_itl_ms",
        "p50_itl_ms",
        "p90_itl_ms",
        "p99_itl_ms",
    }
    assert all(v is None for v in d.values())


def test_percentile_keys() -> None:
    assert percentile_key(99, "tpot_ms") == "p99_tpot_ms"
    assert percentile_key(99.9, "e2el_ms") == "p99.9_e2el_ms"


@pytest.mark.parametrize(
    ("e2e", "ttft", "tokens", "expected"),
    [
        (1100.0, 100.0, 101, 10.0),  # 1000 ms for the 100 tokens after the first
        (300.0, 50.0, 2, 250.0),
        (300.0, 50.0, 1, None),  # no gap to measure
        (300.0, None, 50, None),  # no first token seen (not streamed)
        (300.0, 50.0, None, None),
    ],
)
def test_tpot(e2e: float, ttft: float | None, tokens: int | None, expected: float | None) -> None:
    assert tpot_ms(e2e, ttft, tokens) == expected


def test_tokens_per_s_per_user_is_one_over_tpot() -> None:
    assert tokens_per_s_per_user(20.0) == 50.0
    assert tokens_per_s_per_user(None) is None
    assert tokens_per_s_per_user(0.0) is None


def test_rate() -> None:
    assert rate(30, 10.0) == 3.0
    assert rate(5, 0.0) is None


@pytest.mark.parametrize(
    ("slo", "ttft", "tpot", "e2e", "good"),
    [
        (SLOTargets(ttft_ms=100), 99.0, 5.0, 1000.0, True),
        (SLOTargets(ttft_ms=100), 100.0, 5.0, 1000.0, True),  # ≤ meets it
        (SLOTargets(ttft_ms=100), 101.0, 5.0, 1000.0, False),
        (SLOTargets(ttft_ms=100, tpot_ms=10), 50.0, 11.0, 1000.0, False),
        (SLOTargets(tpot_ms=10), 50.0, None, 1000.0, True),  # one token: TPOT counts as 0
        (SLOTargets(e2e_ms=500), 50.0, 5.0, 600.0, False),
        (SLOTargets(ttft_ms=500), None, None, 600.0, False),  # not streamed: TTFT = E2E
        (SLOTargets(), 1e9, 1e9, 1e9, True),
    ],
)
def test_meets_slo(
    slo: SLOTargets, ttft: float | None, tpot: float | None, e2e: float, good: bool
) -> None:
    assert meets_slo(slo, ttft, tpot, e2e) is good


def test_error_counts_most_frequent_first() -> None:
    kinds = [None, "http_429", "timeout", "http_429", None, "http_429", "timeout", "connect"]
    assert list(error_counts(kinds).items()) == [("http_429", 3), ("timeout", 2), ("connect", 1)]


def test_bin_width_is_round_and_bounded() -> None:
    assert bin_width(30.0) == 0.25
    assert bin_width(30.0, 30) == 1.0
    assert 7200 / bin_width(7200.0) <= 120


def test_timeline_counts_rates_in_flight_and_errors() -> None:
    intended = np.array([0.0, 0.5, 1.0, 1.5])
    sent = np.array([0.0, 0.5, 1.2, 1.6])
    end = np.array([0.9, 2.5, 1.8, 3.5])
    failed = np.array([False, False, False, True])
    t = timeline(intended, sent, end, failed, 1.0)
    assert t["t_s"] == [0.0, 1.0, 2.0, 3.0]
    assert t["intended_per_s"] == [2.0, 2.0, 0.0, 0.0]
    assert t["sent_per_s"] == [2.0, 2.0, 0.0, 0.0]
    assert t["completed_per_s"] == [1.0, 1.0, 1.0, 0.0]
    assert t["errors_per_s"] == [0.0, 0.0, 0.0, 1.0]
    # at 1 s: #1 in flight; at 2 s: #1 and #3 (#2 ended at 1.8); at 3 s: #3; at 4 s: none
    assert t["in_flight"] == [1.0, 2.0, 1.0, 0.0]
