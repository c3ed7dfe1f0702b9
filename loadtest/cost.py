"""Cost and charge over a run, from the gateway's ``GET /admin/usage`` answer. Pure.

The answer looks like ``{"total": {requests, prompt_tokens, cached_tokens, completion_tokens,
charge_usd, gpu_cost_usd, cost_per_mtok_usd, ...}, "groups": [{"tenant", "tier", ...}]}``;
missing fields are tolerated. Per-1M-token figures count prompt and completion tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_SUMMED = (
    "requests",
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
    "charge_usd",
    "gpu_cost_usd",
)


def cost_summary(usage: Mapping[str, Any]) -> dict[str, Any]:
    """``{"total": {...}, "tiers": {name: {...}}}`` with per-1M-token charge and GPU cost."""
    total = _with_ratios(usage.get("total") or {})
    tiers: dict[str, dict[str, Any]] = {}
    for group in usage.get("groups") or []:
        if not isinstance(group, Mapping) or group.get("tier") is None:
            continue
        acc = tiers.setdefault(str(group["tier"]), {})
        for key in _SUMMED:
            value = group.get(key)
            if isinstance(value, int | float):
                acc[key] = acc.get(key, 0) + value
    return {"total": total, "tiers": {name: _with_ratios(v) for name, v in tiers.items()}}


def _with_ratios(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    tokens = (row.get("prompt_tokens") or 0) + (row.get("completion_tokens") or 0)
    for money, ratio in (
        ("charge_usd", "charge_per_mtok_usd"),
        ("gpu_cost_usd", "gpu_cost_per_mtok_usd"),
    ):
        value = row.get(money)
        out[ratio] = value / tokens * 1e6 if isinstance(value, int | float) and tokens else None
    # The gateway's own figure wins when it gives one (it may count tokens differently).
    out.setdefault("cost_per_mtok_usd", out["gpu_cost_per_mtok_usd"])
    return out
