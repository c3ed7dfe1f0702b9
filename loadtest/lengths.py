"""Token-length distributions for prompts and outputs, one pydantic model per kind.

Each samples integer lengths from a seeded generator, clipped to ``[min, max]``. On the
command line: ``200`` or ``fixed:200``, ``uniform:100:300``, ``normal:200:50`` (mean, std),
``lognormal:200:0.6`` (arithmetic mean, sigma of the underlying normal).
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Length(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    min: int = Field(1, ge=1)
    max: int | None = Field(None, ge=1)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        raw = self._draw(rng, n)
        out = np.rint(raw).astype(np.int64)
        return np.clip(out, self.min, self.max if self.max is not None else None)

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        raise NotImplementedError


class FixedLength(_Length):
    kind: Literal["fixed"] = "fixed"
    value: int = Field(ge=1)

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value)


class UniformLength(_Length):
    """Integers uniform on [low, high], both included."""

    kind: Literal["uniform"] = "uniform"
    low: int = Field(ge=1)
    high: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> UniformLength:
        if self.high < self.low:
            raise ValueError(f"uniform length: high {self.high} < low {self.low}")
        return self

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.integers(self.low, self.high, n, endpoint=True)


class NormalLength(_Length):
    kind: Literal["normal"] = "normal"
    mean: float = Field(gt=0)
    std: float = Field(ge=0)

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.normal(self.mean, self.std, n)


class LognormalLength(_Length):
    """Right-skewed like real chat traffic; ``mean`` is the mean length, not exp(mu)."""

    kind: Literal["lognormal"] = "lognormal"
    mean: float = Field(gt=0)
    sigma: float = Field(ge=0)

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        # E[X] = exp(mu + sigma²/2), so this mu keeps the requested mean.
        mu = math.log(self.mean) - self.sigma * self.sigma / 2
        return rng.lognormal(mu, self.sigma, n)


LengthDistribution = Annotated[
    FixedLength | UniformLength | NormalLength | LognormalLength, Field(discriminator="kind")
]


def parse_length(text: str) -> LengthDistribution:
    """``200``, ``fixed:200``, ``uniform:LOW:HIGH``, ``normal:MEAN:STD`` or
    ``lognormal:MEAN:SIGMA``."""
    parts = text.strip().split(":")
    kind, args = ("fixed", parts) if len(parts) == 1 else (parts[0].lower(), parts[1:])
    try:
        nums = [float(a) for a in args]
        if kind == "fixed" and len(nums) == 1:
            return FixedLength(value=_int(nums[0]))
        if kind == "uniform" and len(nums) == 2:
            return UniformLength(low=_int(nums[0]), high=_int(nums[1]))
        if kind == "normal" and len(nums) == 2:
            return NormalLength(mean=nums[0], std=nums[1])
        if kind == "lognormal" and len(nums) == 2:
            return LognormalLength(mean=nums[0], sigma=nums[1])
    except ValueError as exc:
        raise ValueError(f"bad length distribution {text!r}: {exc}") from None
    raise ValueError(
        f"bad length distribution {text!r}; use N, fixed:N, uniform:LOW:HIGH, "
        "normal:MEAN:STD or lognormal:MEAN:SIGMA"
    )


def _int(x: float) -> int:
    if x != int(x):
        raise ValueError(f"{x} is not a whole number of tokens")
    return int(x)
