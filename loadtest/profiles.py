"""Load profiles, one pydantic model per profile keyed by ``kind``: what a run offers the server.

Open loop (``constant``, ``poisson``, ``gamma``): requests leave on a schedule fixed up front,
optionally capped by ``max_concurrency`` requests in flight (the rest wait for a slot, and that
wait counts in their latency). Closed loop (``concurrency``): a fixed number of users, each
sending its next request when the last one finished. ``sweep``: a series of either, stopping
at saturation (see ``loadtest.sweep``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from loadtest.arrivals import ArrivalProcess, ConstantArrivals, GammaArrivals, PoissonArrivals


class _Profile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _OpenLoop(_Profile):
    rate: float = Field(gt=0, description="mean requests per second")
    max_concurrency: int | None = Field(None, ge=1, description="cap on requests in flight")

    @property
    def closed_loop(self) -> bool:
        return False

    @property
    def load(self) -> float:
        return self.rate

    def arrivals(self) -> ArrivalProcess:
        raise NotImplementedError


class ConstantProfile(_OpenLoop):
    kind: Literal["constant"] = "constant"

    def arrivals(self) -> ArrivalProcess:
        return ConstantArrivals(self.rate)

    def describe(self) -> str:
        return f"constant {self.rate:g} req/s" + _cap(self.max_concurrency)


class PoissonProfile(_OpenLoop):
    kind: Literal["poisson"] = "poisson"

    def arrivals(self) -> ArrivalProcess:
        return PoissonArrivals(self.rate)

    def describe(self) -> str:
        return f"poisson {self.rate:g} req/s" + _cap(self.max_concurrency)


class GammaProfile(_OpenLoop):
    """Gamma gaps; ``cv`` is the coefficient of variation of the gaps (1 = Poisson)."""

    kind: Literal["gamma"] = "gamma"
    cv: float = Field(2.0, gt=0)

    def arrivals(self) -> ArrivalProcess:
        return GammaArrivals(self.rate, self.cv)

    def describe(self) -> str:
        return f"gamma {self.rate:g} req/s, CV {self.cv:g}" + _cap(self.max_concurrency)


class ConcurrencyProfile(_Profile):
    """``users`` clients in a closed loop; latency is measured from the actual send."""

    kind: Literal["concurrency"] = "concurrency"
    users: int = Field(ge=1)

    @property
    def closed_loop(self) -> bool:
        return True

    @property
    def load(self) -> float:
        return float(self.users)

    @property
    def max_concurrency(self) -> int:
        return self.users

    def describe(self) -> str:
        return f"{self.users} concurrent users (closed loop)"


StepProfile = Annotated[
    ConstantProfile | PoissonProfile | GammaProfile | ConcurrencyProfile,
    Field(discriminator="kind"),
]


class SaturationRule(BaseModel):
    """When a sweep stops; see ``loadtest.sweep.saturation`` for the exact tests."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_gain: float = Field(
        0.25, ge=0, description="share of the load increase throughput must gain"
    )
    max_error_rate: float = Field(0.05, ge=0, le=1)
    latency_factor: float = Field(10.0, gt=1, description="p99 TTFT over the first step's")
    stop: bool = Field(True, description="stop at the saturated step (else mark it, run on)")


class SweepProfile(_Profile):
    """Rates (open loop, with ``arrival``) or concurrencies (closed loop), in increasing order."""

    kind: Literal["sweep"] = "sweep"
    arrival: Literal["constant", "poisson", "gamma", "concurrency"] = "poisson"
    loads: list[float] = Field(min_length=1, description="req/s, or users for concurrency")
    cv: float = Field(2.0, gt=0)
    max_concurrency: int | None = Field(None, ge=1)
    saturation: SaturationRule = SaturationRule()

    @model_validator(mode="after")
    def _increasing(self) -> SweepProfile:
        if any(b <= a for a, b in zip(self.loads, self.loads[1:], strict=False)):
            raise ValueError("sweep loads must be strictly increasing")
        if self.arrival == "concurrency" and any(x != int(x) or x < 1 for x in self.loads):
            raise ValueError("a concurrency sweep needs whole numbers of users")
        return self

    @property
    def closed_loop(self) -> bool:
        return self.arrival == "concurrency"

    def steps(self) -> list[ConstantProfile | PoissonProfile | GammaProfile | ConcurrencyProfile]:
        cap = self.max_concurrency
        if self.arrival == "concurrency":
            return [ConcurrencyProfile(users=int(x)) for x in self.loads]
        if self.arrival == "constant":
            return [ConstantProfile(rate=x, max_concurrency=cap) for x in self.loads]
        if self.arrival == "gamma":
            return [GammaProfile(rate=x, cv=self.cv, max_concurrency=cap) for x in self.loads]
        return [PoissonProfile(rate=x, max_concurrency=cap) for x in self.loads]

    def describe(self) -> str:
        unit = "users" if self.closed_loop else "req/s"
        return f"sweep ({self.arrival}) over {', '.join(f'{x:g}' for x in self.loads)} {unit}"


Profile = Annotated[
    ConstantProfile | PoissonProfile | GammaProfile | ConcurrencyProfile | SweepProfile,
    Field(discriminator="kind"),
]


def _cap(cap: int | None) -> str:
    return "" if cap is None else f", at most {cap} in flight"
