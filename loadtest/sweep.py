"""Sweeps: the same seeded workload at increasing load, stopping at saturation.

A step at load L_k (req/s, or users) is *saturated* when any of these holds (first match is
the reason given):

1. errors: more than ``max_error_rate`` of its requests failed;
2. throughput stopped growing: achieved throughput X_k < X_{k-1}·(1 + min_gain·(L_k/L_{k-1} - 1)),
   i.e. it realised less than ``min_gain`` (default 25 %) of the relative load increase;
3. latency blew up: p99 TTFT (p99 E2E without streaming) exceeds ``latency_factor`` (default
   10) times the first step's.

The sweep runs the saturated step, reports it and stops (with ``stop: false``, it marks the
first saturated step and runs the rest). ``saturation`` is pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loadtest.config import RunConfig
from loadtest.profiles import SaturationRule, SweepProfile
from loadtest.progress import LiveStats
from loadtest.result import RunResult
from loadtest.runner import make_session, run_load
from loadtest.summary import summarize

RULE_TEXT = (
    "Saturation: error rate above {max_error_rate:.0%}, or throughput gaining less than "
    "{min_gain:.0%} of the relative load increase, or p99 TTFT above {latency_factor:g}x "
    "the first step's."
)


@dataclass(slots=True)
class SweepResult:
    config: RunConfig
    steps: list[dict[str, Any]] = field(default_factory=list)  # step_row() of each step run
    summaries: list[dict[str, Any]] = field(default_factory=list)
    saturation: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        profile = self.config.profile
        assert isinstance(profile, SweepProfile)
        return {
            "schema": "tokengate.loadtest.sweep/1",
            "description": profile.describe(),
            "model": self.config.model,
            "base_url": self.config.base_url,
            "load_unit": "users" if profile.closed_loop else "req/s",
            "rule": RULE_TEXT.format(**profile.saturation.model_dump()),
            "steps": self.steps,
            "saturation": self.saturation,
        }


def step_row(load: float, summary: Mapping[str, Any], directory: str = "") -> dict[str, Any]:
    """The figures of one step that the saturation test and the sweep report use."""
    o = summary["overall"]
    latency_key = "p99_ttft_ms" if o.get("p99_ttft_ms") is not None else "p99_e2el_ms"
    return {
        "load": load,
        "dir": directory,
        "requests": o["requests"],
        "request_throughput": o["request_throughput"],
        "request_goodput": o.get("request_goodput"),
        "output_throughput": o["output_throughput"],
        "p50_ttft_ms": o.get("p50_ttft_ms"),
        "p99_ttft_ms": o.get("p99_ttft_ms"),
        "p50_tpot_ms": o.get("p50_tpot_ms"),
        "p99_latency_ms": o.get(latency_key),
        "error_rate": o["failed"] / o["requests"] if o["requests"] else 0.0,
        "saturated": False,
    }


def saturation(steps: Sequence[Mapping[str, Any]], rule: SaturationRule) -> tuple[int, str] | None:
    """The first saturated step and why, or None."""
    for k, cur in enumerate(steps):
        if cur["error_rate"] > rule.max_error_rate:
            return (
                k,
                f"{cur['error_rate']:.1%} of requests failed (limit {rule.max_error_rate:.0%})",
            )
        if k > 0:
            prev = steps[k - 1]
            x_prev, x_cur = prev["request_throughput"] or 0.0, cur["request_throughput"] or 0.0
            ratio = cur["load"] / prev["load"]
            needed = x_prev * (1 + rule.min_gain * (ratio - 1))
            if x_cur < needed:
                return k, (
                    f"throughput {x_cur:.2f} req/s after {x_prev:.2f} for {ratio:.2f}x the load "
                    f"(needed ≥ {needed:.2f})"
                )
        base, lat = steps[0]["p99_latency_ms"], cur["p99_latency_ms"]
        if base and lat and lat > rule.latency_factor * base:
            return (
                k,
                f"p99 latency {lat:.0f} ms is {lat / base:.1f}x the first step's {base:.0f} ms",
            )
    return None


async def run_sweep(
    config: RunConfig,
    *,
    live: LiveStats | None = None,
    on_step: Callable[[int, RunResult, dict[str, Any]], str] | None = None,
) -> SweepResult:
    """Run each step of ``config.profile`` (a ``SweepProfile``) until one saturates.

    ``on_step(i, result, summary)`` is called after each step (e.g. to write its files) and
    returns the step's directory name for the sweep report.
    """
    profile = config.profile
    if not isinstance(profile, SweepProfile):
        raise ValueError("run_sweep needs a sweep profile")
    out = SweepResult(config)
    live = live if live is not None else LiveStats()
    async with make_session(config) as session:
        for i, step in enumerate(profile.steps()):
            live.reset(f"step {i + 1}/{len(profile.loads)}: {step.describe()}")
            result = await run_load(config, profile=step, live=live, session=session)
            summary = summarize(result)
            directory = on_step(i, result, summary) if on_step else ""
            out.steps.append(step_row(step.load, summary, directory))
            out.summaries.append(summary)
            found = saturation(out.steps, profile.saturation)
            if found is not None and out.saturation is None:
                k, reason = found
                out.steps[k]["saturated"] = True
                good = [s for s in out.steps[:k]]
                out.saturation = {
                    "step": k,
                    "load": out.steps[k]["load"],
                    "reason": reason,
                    "last_good_load": good[-1]["load"] if good else None,
                    "max_request_throughput": max(
                        (s["request_throughput"] or 0.0 for s in out.steps), default=None
                    ),
                }
            if out.saturation is not None and profile.saturation.stop:
                break
    return out
