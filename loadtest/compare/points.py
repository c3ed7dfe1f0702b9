"""Operating points: one load on one config, turned into the tokenomics figures. Pure.

A run's summary is in wall-clock time; with a time scale s the simulated GPUs ran s times
faster, so times are multiplied by s and rates divided by s to give simulated (GPU) time.

Cost is the fleet's, busy or idle: every GPU costs ``gpu_hour_usd`` for the whole measured
window, and the output tokens of that window carry it all (prompt tokens ride free)::

    cost per 1M output tokens  c = fleet_usd_per_hour / 3600 / output_tok_per_s · 1e6
    break-even output price       = c                  (charge = GPU cost)
    price at margin m             = c / (1 - m)        (m = (price - cost) / price)

The last two are ``gateway.metering.pricing``'s ``break_even_price`` and ``price_at_margin``
(rounded up to a whole nano-dollar). What the config's own prices earned (charge per 1M
output tokens, computed from each request's usage) and its margin sit beside them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from gateway.metering.pricing import (
    Prices,
    break_even_price,
    charge_nano,
    margin_ratio,
    price_at_margin,
)
from gateway.metering.record import NANO_PER_USD
from loadtest.record import RequestRecord

_MS_KEYS = ("p50_ttft_ms", "p99_ttft_ms", "p50_tpot_ms", "p50_itl_ms", "p99_itl_ms", "p50_e2el_ms")


def cost_per_output_mtok(fleet_usd_per_hour: float, output_tok_per_s: float | None) -> float | None:
    """USD per 1M output tokens when the fleet's whole cost falls on them; None without output."""
    if not output_tok_per_s or output_tok_per_s <= 0:
        return None
    return fleet_usd_per_hour / 3600.0 / output_tok_per_s * 1e6


def prices_for_cost(cost: float | None, margin: float) -> tuple[float | None, float | None]:
    """(break-even price, price at ``margin``), USD per 1M output tokens."""
    if cost is None:
        return None, None
    return break_even_price(cost), price_at_margin(cost, margin)


def operating_point(
    group: Mapping[str, Any],
    *,
    config: str,
    tier: str,
    load: float,
    time_scale: float,
    gpus: int,
    fleet_usd_per_hour: float | None,
    margin: float,
    cost_per_mtok_out: float | None = None,
    fleet_tok_s_per_gpu: float | None = None,
    charge_usd: float | None = None,
    gateway_cost: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The figures of one summary group (``overall`` or a tier) at one load, on the GPU clock.

    The cost comes from ``fleet_usd_per_hour`` and the group's own output rate (the whole
    run), or is given as ``cost_per_mtok_out`` (a class on a shared fleet: every output token
    costs the fleet's average; ``fleet_tok_s_per_gpu`` likewise replaces the class's own share
    of the throughput, kept as ``class_output_tok_s``). ``charge_usd`` is what the group's
    requests were charged.
    """
    s = time_scale
    out_tps = _div(group.get("output_throughput"), s)
    completion = group.get("total_output_tokens") or 0
    point: dict[str, Any] = {
        "config": config,
        "tier": tier,
        "offered_rate": load,
        "completed": group.get("completed"),
        "failed": group.get("failed"),
        "request_throughput": _div(group.get("request_throughput"), s),
        "output_tok_s": out_tps,
        "output_tok_s_per_gpu": _div(out_tps, gpus),
        "class_output_tok_s": None,
        "tok_s_per_user": _div(group.get("median_tok_s_per_user"), s),
        "p10_tok_s_per_user": _div(group.get("p10_tok_s_per_user"), s),
    }
    for key in _MS_KEYS:
        point[key] = _mul(group.get(key), s)
    # The harness's own lateness, wall clock: when it is large the CPU, not the GPUs, set the pace.
    point["p99_schedule_lag_wall_ms"] = group.get("p99_schedule_lag_ms")
    cost = cost_per_mtok_out
    if cost is None and fleet_usd_per_hour:
        cost = cost_per_output_mtok(fleet_usd_per_hour, out_tps)
    point["cost_per_mtok_out_usd"] = cost
    if fleet_tok_s_per_gpu is not None:
        point["class_output_tok_s"] = out_tps
        point["output_tok_s_per_gpu"] = fleet_tok_s_per_gpu
    point["break_even_usd"], point["price_at_margin_usd"] = prices_for_cost(cost, margin)
    revenue = charge_usd / completion * 1e6 if charge_usd is not None and completion else None
    point["charge_per_mtok_out_usd"] = revenue
    point["margin_at_config_prices"] = (
        margin_ratio(revenue, cost) if revenue is not None and cost is not None else None
    )
    if gateway_cost:  # the gateway's own meter, when /admin/usage answered
        point["gateway_charge_usd"] = gateway_cost.get("charge_usd")
        point["gateway_gpu_cost_usd"] = gateway_cost.get("gpu_cost_usd")
        gpu_cost, out = gateway_cost.get("gpu_cost_usd"), gateway_cost.get("completion_tokens")
        point["gateway_cost_per_mtok_out_usd"] = (
            gpu_cost / out * 1e6 if isinstance(gpu_cost, int | float) and out else None
        )
    return point


def _div(x: float | None, y: float) -> float | None:
    return None if x is None or not y else x / y


def _mul(x: float | None, y: float) -> float | None:
    return None if x is None else x * y


def charges_usd(
    records: Iterable[RequestRecord],
    tier_of: Callable[[str], str],
    prices: Mapping[str, Mapping[str, float | None]],
) -> dict[str, float]:
    """What each workload class (and ``"all"``) was charged at its tier's prices, warm-up left out.

    From each successful request's usage, no prompt token counted as cached (the load tester's
    prompts are unique), with the gateway's own rounding (``charge_nano``).
    """
    table = {tier: Prices(**p) for tier, p in prices.items()}
    nano: dict[str, int] = {"all": 0}
    for r in records:
        if r.warmup or not r.ok:
            continue
        n = charge_nano(table[tier_of(r.tier)], r.prompt_tokens or 0, 0, r.completion_tokens or 0)
        nano[r.tier] = nano.get(r.tier, 0) + n
        nano["all"] += n
    return {k: v / NANO_PER_USD for k, v in nano.items()}


LAG_WARN_MS = 25.0  # p99 schedule lag (wall clock) above which a point is flagged


def harness_notes(points: Iterable[Mapping[str, Any]]) -> list[str]:
    """Operating points where the load generator itself fell behind its schedule.

    Simulators, gateway and load generator share one event loop: when it is saturated, requests
    leave late and every latency grows, and the figures describe this machine's CPU.
    """
    return [
        f"{p['config']} at {p['offered_rate']:g} req/s: requests left up to "
        f"{p['p99_schedule_lag_wall_ms']:.0f} ms late (p99, wall clock); this machine's CPU, "
        "not the simulated GPUs, may bound these figures (lower the rate or the time scale)"
        for p in points
        if p["tier"] == "all" and (p.get("p99_schedule_lag_wall_ms") or 0.0) > LAG_WARN_MS
    ]
