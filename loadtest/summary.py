"""A run's summary: overall and per tier, with vLLM-compatible metric names. Pure (no I/O).

Warm-up requests are left out. Throughputs divide by the measured window: from the first
measured intended send to the last measured response. Latency distributions cover successful
requests only (as vLLM's); failures are counted by kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from loadtest.cost import cost_summary
from loadtest.metrics import (
    SLOTargets,
    bin_width,
    distribution,
    error_counts,
    meets_slo,
    rate,
    timeline,
    tokens_per_s_per_user,
)
from loadtest.record import RequestRecord
from loadtest.result import RunResult

SCHEMA = "tokengate.loadtest.summary/1"


def summarize(result: RunResult) -> dict[str, Any]:
    cfg = result.config
    measured = [r for r in result.records if not r.warmup]
    start = min((r.intended_s for r in measured), default=0.0)
    end = max((r.end_s for r in measured), default=start)
    duration = end - start
    slo = SLOTargets(**cfg.slo.model_dump()) if cfg.slo else None
    cost = cost_summary(result.usage) if result.usage is not None else None
    tiers: dict[str, Any] = {}
    for tier in cfg.tiers:
        group = [r for r in measured if r.tier == tier.name]
        tiers[tier.name] = group_metrics(group, duration, result.gpus, slo)
        if cost is not None:
            tiers[tier.name]["cost"] = cost["tiers"].get(tier.name)
    overall = group_metrics(measured, duration, result.gpus, slo)
    overall["warmup_requests"] = len(result.records) - len(measured)
    overall["offered_rate"] = None if result.profile.closed_loop else result.profile.load
    return {
        "schema": SCHEMA,
        "run": {
            "base_url": cfg.base_url,
            "model": cfg.model,
            "endpoint": cfg.endpoint,
            "stream": cfg.stream,
            "profile": result.profile.model_dump(),
            "profile_description": result.profile.describe(),
            "seed": cfg.seed,
            "warmup_s": cfg.warmup_s,
            "started_at": result.started_at,
            "wall_duration_s": result.wall_duration_s,
            "measured_duration_s": duration,
            "latency_origin": result.latency_origin,
            "gpus": result.gpus,
            "gpus_source": result.gpus_source,
            "tiers": {t.name: t.share for t in cfg.tiers},
            "slo": cfg.slo.model_dump() if cfg.slo else None,
            "notes": list(result.notes),
        },
        "overall": overall,
        "tiers": tiers,
        "cost": cost["total"] if cost is not None else None,
        "timeline": run_timeline(result.records),
    }


def run_timeline(records: Sequence[RequestRecord]) -> dict[str, list[float]]:
    """Sending, achieved and error rates and requests in flight over the whole run (warm-up too)."""
    intended = np.array([r.intended_s for r in records])
    sent = np.array([r.sent_s for r in records])
    end = np.array([r.end_s for r in records])
    failed = np.array([not r.ok for r in records], dtype=bool)
    span = float(end.max()) if end.size else 0.0
    # Enough requests per bin for a rate to mean something, at most 120 bins.
    return timeline(
        intended, sent, end, failed, bin_width(span, min(120, max(8, len(records) // 10)))
    )


def group_metrics(
    records: Sequence[RequestRecord],
    duration_s: float,
    gpus: int | None,
    slo: SLOTargets | None,
) -> dict[str, Any]:
    ok = [r for r in records if r.ok]
    ttft = [v for r in ok if (v := r.ttft_ms) is not None]
    tpot = [v for r in ok if (v := r.tpot_ms) is not None]
    e2e = [r.e2e_ms for r in ok]
    gaps = [r.itl_s for r in ok if r.itl_s]
    itl = np.concatenate(gaps) * 1000.0 if gaps else np.empty(0)
    queue = [r.queue_ms for r in ok if r.queue_ms is not None]
    lag = [r.schedule_lag_ms for r in records]
    speed = [s for v in tpot if (s := tokens_per_s_per_user(v)) is not None]
    out_tokens = sum(r.completion_tokens or 0 for r in ok)
    in_tokens = sum(r.prompt_tokens or 0 for r in ok)
    output_throughput = rate(out_tokens, duration_s)
    out: dict[str, Any] = {
        "requests": len(records),
        "completed": len(ok),
        "failed": len(records) - len(ok),
        "total_input_tokens": in_tokens,
        "total_output_tokens": out_tokens,
        "request_throughput": rate(len(ok), duration_s),
        "output_throughput": output_throughput,
        "total_token_throughput": rate(in_tokens + out_tokens, duration_s),
        "output_throughput_per_gpu": (
            output_throughput / gpus if gpus and output_throughput is not None else None
        ),
        "request_goodput": None,
        "intended_rate": _span_rate([r.intended_s for r in records]),  # the seeded schedule's
        "sent_rate": _span_rate([r.sent_s for r in records]),  # what actually left
    }
    if slo is not None:
        good = sum(meets_slo(slo, r.ttft_ms, r.tpot_ms, r.e2e_ms) for r in ok)
        out["request_goodput"] = rate(good, duration_s)
        out["slo_attainment"] = good / len(records) if records else None
    out.update(distribution("ttft_ms", ttft))
    out.update(distribution("tpot_ms", tpot))
    out.update(distribution("itl_ms", itl))
    out.update(distribution("e2el_ms", e2e))
    out.update(distribution("queue_ms", queue))
    out.update(distribution("schedule_lag_ms", lag))
    out["max_schedule_lag_ms"] = max(lag) if lag else None
    speeds = np.asarray(speed)
    out["mean_tok_s_per_user"] = float(speeds.mean()) if speeds.size else None
    out["median_tok_s_per_user"] = float(np.median(speeds)) if speeds.size else None
    # The slow tail of per-user speed is its low percentile (the p90 of TPOT).
    out["p10_tok_s_per_user"] = float(np.percentile(speeds, 10)) if speeds.size else None
    out["errors"] = error_counts(r.error_kind for r in records)
    return out


def _span_rate(times: Sequence[float]) -> float | None:
    """Requests per second over the span of ``times`` (n - 1 gaps between n sends)."""
    if len(times) < 2:
        return None
    return rate(len(times) - 1, max(times) - min(times))
