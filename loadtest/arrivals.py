"""Arrival processes: when each request of an open-loop run is meant to leave.

Pure: a seeded ``numpy.random.Generator`` in, an array of intended send times (seconds from
the start of the run, starting at 0) out. The whole schedule is computed before the first
request is sent, so it never depends on how fast the server answers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np


class ArrivalProcess(Protocol):
    """Inter-arrival gaps of a renewal process with mean ``1/rate`` seconds."""

    rate: float

    def gaps(self, rng: np.random.Generator, n: int) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class ConstantArrivals:
    """Exactly ``rate`` requests a second, evenly spaced (CV 0)."""

    rate: float

    def gaps(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, 1.0 / self.rate)


@dataclass(frozen=True, slots=True)
class PoissonArrivals:
    """Memoryless arrivals: exponential gaps with mean ``1/rate`` (CV 1)."""

    rate: float

    def gaps(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(1.0 / self.rate, n)


@dataclass(frozen=True, slots=True)
class GammaArrivals:
    """Bursty (``cv`` > 1) or smoother (``cv`` < 1) than Poisson, same mean rate.

    Gamma gaps with shape k = 1/cv² and scale θ = 1/(rate·k): mean kθ = 1/rate and
    CV = 1/√k = cv. vLLM's ``--burstiness`` is k, so ``cv = 1/√burstiness``.
    """

    rate: float
    cv: float

    def gaps(self, rng: np.random.Generator, n: int) -> np.ndarray:
        shape = 1.0 / (self.cv * self.cv)
        return rng.gamma(shape, 1.0 / (self.rate * shape), n)


def schedule(
    process: ArrivalProcess,
    rng: np.random.Generator,
    *,
    duration_s: float | None = None,
    count: int | None = None,
) -> np.ndarray:
    """Intended send times: the first at 0, then cumulative gaps; stop at ``count`` requests or
    before ``duration_s``, whichever comes first (at least one of them must be given)."""
    if duration_s is None and count is None:
        raise ValueError("an arrival schedule needs a duration or a request count")
    if isinstance(process, ConstantArrivals):
        # i/rate exactly: a cumulative sum of 0.1s drifts below 1.0 and lets in an extra send.
        n = count if duration_s is None else math.ceil(duration_s * process.rate - 1e-9)
        return np.arange(n if count is None else min(n, count)) / process.rate
    if count is not None and duration_s is None:
        return _times(process.gaps(rng, max(count - 1, 0)))
    assert duration_s is not None
    # Draw in blocks so the result does not depend on a guessed size: draws are sequential,
    # so the same seed gives the same prefix whatever the block size.
    expected = process.rate * duration_s
    block = int(expected + 6 * np.sqrt(expected + 1) + 16)
    gaps = process.gaps(rng, block)
    while gaps.sum() < duration_s and (count is None or gaps.size < count):
        gaps = np.concatenate([gaps, process.gaps(rng, block)])
    times = _times(gaps)
    times = times[times < duration_s]
    return times if count is None else times[:count]


def _times(gaps: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(gaps)])
