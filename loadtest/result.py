"""What one run leaves behind: its configuration, its request records and what the gateway said."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loadtest.config import RunConfig
from loadtest.profiles import ConcurrencyProfile, ConstantProfile, GammaProfile, PoissonProfile
from loadtest.record import RequestRecord

StepProfile = ConstantProfile | PoissonProfile | GammaProfile | ConcurrencyProfile


@dataclass(slots=True)
class RunResult:
    config: RunConfig
    profile: StepProfile  # the profile this run used (one step of a sweep, or config.profile)
    records: list[RequestRecord]
    started_at: float  # Unix time at the run's t=0
    wall_duration_s: float  # t=0 to the last response
    gpus: int | None = None
    gpus_source: str | None = None  # "config" or "gateway"
    usage: dict[str, Any] | None = None  # GET /admin/usage over the run, as returned
    notes: list[str] = field(default_factory=list)

    @property
    def latency_origin(self) -> str:
        return "actual_send" if self.profile.closed_loop else "intended_send"
