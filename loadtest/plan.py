"""The open-loop plan of a run, fixed before the first send: intended times and requests. Pure.

Warm-up requests come first (intended before ``warmup_s``); then the measured ones, for
``duration_s`` or ``requests`` requests, whichever ends first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from loadtest.arrivals import schedule
from loadtest.config import RunConfig
from loadtest.profiles import ConstantProfile, GammaProfile, PoissonProfile
from loadtest.workload import RequestSpec, Workload, rng_for


@dataclass(frozen=True, slots=True)
class OpenLoopPlan:
    times_s: np.ndarray  # intended send times, seconds from t=0, non-decreasing
    specs: list[RequestSpec]
    warmup_count: int  # the first ``warmup_count`` requests are warm-up


def open_loop_plan(
    config: RunConfig,
    profile: ConstantProfile | PoissonProfile | GammaProfile,
    workload: Workload | None = None,
) -> OpenLoopPlan:
    rng = rng_for(config.seed, "arrivals")
    process = profile.arrivals()
    warm = config.warmup_s
    if config.duration_s is not None:
        times = schedule(process, rng, duration_s=warm + config.duration_s)
    else:
        assert config.requests is not None
        # Enough for the warm-up (a generous bound on its count) plus the measured requests.
        spare = math.ceil(profile.rate * warm * 2 + 10 * math.sqrt(profile.rate * warm + 1))
        times = schedule(process, rng, count=config.requests + spare)
    warmup_count = int(np.searchsorted(times, warm, side="left")) if warm > 0 else 0
    if config.requests is not None:
        times = times[: warmup_count + config.requests]
    specs = (workload or Workload(config)).take(len(times))
    return OpenLoopPlan(times, specs, warmup_count)
