"""Length distributions: bounds, moments and the command-line forms.

n = 100,000 draws; tolerances are five standard errors of the mean (sd/√n).
"""

from __future__ import annotations

import numpy as np
import pytest

from loadtest.lengths import (
    FixedLength,
    LognormalLength,
    NormalLength,
    UniformLength,
    parse_length,
)

N = 100_000


def rng() -> np.random.Generator:
    return np.random.default_rng(11)


def test_fixed_is_exact() -> None:
    assert set(FixedLength(value=128).sample(rng(), 1000).tolist()) == {128}


def test_uniform_covers_both_ends_and_has_the_midpoint_mean() -> None:
    x = UniformLength(low=100, high=300).sample(rng(), N)
    assert x.min() == 100 and x.max() == 300
    sd = np.sqrt(((300 - 100 + 1) ** 2 - 1) / 12)
    assert x.mean() == pytest.approx(200, abs=5 * sd / np.sqrt(N))


def test_normal_mean_and_std() -> None:
    x = NormalLength(mean=500, std=100).sample(rng(), N)
    assert x.mean() == pytest.approx(500, abs=5 * 100 / np.sqrt(N))
    assert x.std() == pytest.approx(100, rel=0.02)


def test_lognormal_keeps_the_requested_mean() -> None:
    sigma = 0.5
    x = LognormalLength(mean=400, sigma=sigma).sample(rng(), N)
    sd = 400 * np.sqrt(np.exp(sigma**2) - 1)
    assert x.mean() == pytest.approx(400, abs=5 * sd / np.sqrt(N) + 0.5)  # + rounding to int
    assert np.median(x) < x.mean()  # right-skewed


def test_clipping_to_min_and_max() -> None:
    x = NormalLength(mean=10, std=50, min=5, max=40).sample(rng(), N)
    assert x.min() == 5 and x.max() == 40


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("200", FixedLength(value=200)),
        ("fixed:64", FixedLength(value=64)),
        ("uniform:10:20", UniformLength(low=10, high=20)),
        ("normal:300:40", NormalLength(mean=300, std=40)),
        ("lognormal:250:0.7", LognormalLength(mean=250, sigma=0.7)),
    ],
)
def test_parse_length(text: str, expected: object) -> None:
    assert parse_length(text) == expected


@pytest.mark.parametrize(
    "text", ["", "abc", "uniform:10", "uniform:20:10", "fixed:1.5", "pareto:1:2"]
)
def test_parse_length_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_length(text)
