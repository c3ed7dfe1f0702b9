"""Arrival processes have the statistics they claim, seeded and exactly reproducible.

Tolerances are five standard errors at the sample size used (n = 200,000 gaps):
- mean of gaps with CV c: relative standard error c/√n (Poisson 0.22 %, gamma CV 2 0.45 %);
- sample CV: relative standard error ≈ √((κ - 1)/n)/2 with κ the kurtosis of the gaps
  (exponential κ = 9 → 0.32 %; gamma shape ¼ has κ = 3 + 6/k = 27 → 0.57 %).
"""

from __future__ import annotations

import numpy as np
import pytest

from loadtest.arrivals import ConstantArrivals, GammaArrivals, PoissonArrivals, schedule

N = 200_000


def cv(x: np.ndarray) -> float:
    return float(x.std() / x.mean())


def test_constant_gaps_are_exact() -> None:
    times = schedule(ConstantArrivals(8.0), np.random.default_rng(0), count=17)
    assert times.tolist() == pytest.approx([i / 8.0 for i in range(17)], abs=1e-12)


def test_poisson_mean_and_cv() -> None:
    gaps = PoissonArrivals(50.0).gaps(np.random.default_rng(1), N)
    assert gaps.mean() == pytest.approx(1 / 50.0, rel=5 * 1 / np.sqrt(N))
    assert cv(gaps) == pytest.approx(1.0, rel=5 * np.sqrt(8 / N) / 2)


@pytest.mark.parametrize(
    ("target_cv", "kurtosis"),
    [(0.5, 3 + 6 * 0.25), (2.0, 3 + 6 * 4.0), (3.0, 3 + 6 * 9.0)],
)
def test_gamma_mean_and_cv(target_cv: float, kurtosis: float) -> None:
    gaps = GammaArrivals(20.0, target_cv).gaps(np.random.default_rng(2), N)
    assert gaps.mean() == pytest.approx(1 / 20.0, rel=5 * target_cv / np.sqrt(N))
    assert cv(gaps) == pytest.approx(target_cv, rel=5 * np.sqrt((kurtosis - 1) / N) / 2)


def test_gamma_with_cv_one_is_as_bursty_as_poisson() -> None:
    gaps = GammaArrivals(10.0, 1.0).gaps(np.random.default_rng(3), N)
    assert cv(gaps) == pytest.approx(1.0, rel=5 * np.sqrt(8 / N) / 2)


def test_schedule_starts_at_zero_and_stays_inside_the_duration() -> None:
    times = schedule(PoissonArrivals(100.0), np.random.default_rng(4), duration_s=30.0)
    assert times[0] == 0.0
    assert np.all(np.diff(times) >= 0)
    assert times[-1] < 30.0
    # 3,000 expected arrivals, Poisson count: standard deviation √3000 ≈ 55; allow 5 sd.
    assert abs(len(times) - 3000) < 5 * np.sqrt(3000)


def test_schedule_count_and_duration_take_the_first_limit() -> None:
    proc = ConstantArrivals(10.0)
    assert len(schedule(proc, np.random.default_rng(0), duration_s=1.0, count=5)) == 5
    assert len(schedule(proc, np.random.default_rng(0), duration_s=1.0, count=500)) == 10


def test_same_seed_same_schedule_and_a_longer_run_extends_it() -> None:
    short = schedule(GammaArrivals(30.0, 2.0), np.random.default_rng(7), duration_s=10.0)
    again = schedule(GammaArrivals(30.0, 2.0), np.random.default_rng(7), duration_s=10.0)
    longer = schedule(GammaArrivals(30.0, 2.0), np.random.default_rng(7), duration_s=100.0)
    assert np.array_equal(short, again)
    assert np.array_equal(longer[: len(short)], short)


def test_schedule_needs_a_limit() -> None:
    with pytest.raises(ValueError, match="duration or a request count"):
        schedule(PoissonArrivals(1.0), np.random.default_rng(0))
