"""Unit economics: what tokens earned against what their GPU time cost, folded from usage records.

Pure: records in, totals out, grouped by any of the record's labels (tenant, tier, model, ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from gateway.metering.pricing import margin_ratio
from gateway.metering.record import NANO_PER_USD, UsageRecord

GROUPABLE: tuple[str, ...] = (
    "tenant",
    "key_id",
    "tier",
    "model",
    "backend",
    "usage_source",
    "attribution",
    "used_reserve",
    "status",
)

GroupKey = tuple[str | bool | None, ...]


def cost_per_mtok_usd(cost_nano: int, tokens: int) -> float | None:
    """Realised cost per 1M tokens: cost / tokens, in USD (nano/token · 1e6 / 1e9)."""
    return cost_nano / tokens / 1000 if tokens else None


@dataclass(frozen=True, slots=True)
class Economics:
    """Summed usage of some records. Money in nano-dollars, GPU time in GPU-nanoseconds.

    Each record's GPU seconds are rounded once to integer nanoseconds, so totals are exact
    and do not depend on the order records are folded in.
    """

    requests: int = 0
    prompt_tokens: int = 0  # includes cached_tokens
    cached_tokens: int = 0
    completion_tokens: int = 0
    charge_nano: int = 0
    gpu_cost_nano: int = 0
    gpu_nanoseconds: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def charge_usd(self) -> float:
        return self.charge_nano / NANO_PER_USD

    @property
    def gpu_cost_usd(self) -> float:
        return self.gpu_cost_nano / NANO_PER_USD

    @property
    def gpu_seconds(self) -> float:
        return self.gpu_nanoseconds / 1e9

    @property
    def cost_per_mtok_usd(self) -> float | None:
        """GPU cost per 1M tokens, prompt and completion alike."""
        return cost_per_mtok_usd(self.gpu_cost_nano, self.tokens)

    @property
    def cost_per_output_mtok_usd(self) -> float | None:
        """GPU cost per 1M completion tokens: the break-even of an output-only price."""
        return cost_per_mtok_usd(self.gpu_cost_nano, self.completion_tokens)

    @property
    def margin_nano(self) -> int:
        """charge - GPU cost."""
        return self.charge_nano - self.gpu_cost_nano

    @property
    def margin_ratio(self) -> float | None:
        """(charge - cost) / charge: the gross margin on price; None with no charge."""
        return margin_ratio(self.charge_nano, self.gpu_cost_nano)

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "cached_tokens": self.cached_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.tokens,
            "charge_nano": self.charge_nano,
            "charge_usd": self.charge_usd,
            "gpu_cost_nano": self.gpu_cost_nano,
            "gpu_cost_usd": self.gpu_cost_usd,
            "gpu_seconds": self.gpu_seconds,
            "cost_per_mtok_usd": self.cost_per_mtok_usd,
            "cost_per_output_mtok_usd": self.cost_per_output_mtok_usd,
            "margin_nano": self.margin_nano,
            "margin_usd": self.margin_nano / NANO_PER_USD,
            "margin_ratio": self.margin_ratio,
        }


_SUMS = tuple(f.name for f in fields(Economics))


def _contribution(r: UsageRecord) -> tuple[int, ...]:
    """One record's addition to each field of ``Economics``, in field order."""
    return (
        1,
        r.prompt_tokens,
        r.cached_tokens,
        r.completion_tokens,
        r.charge_nano,
        r.gpu_cost_nano,
        round(r.gpu_seconds * 1e9),
    )


def fold_usage(records: Iterable[UsageRecord], by: Sequence[str] = ()) -> dict[GroupKey, Economics]:
    """Totals per distinct value of the ``by`` labels, keyed by those values in ``by`` order.

    ``by=()`` folds everything into one total under the key ``()``; no records, no keys.
    ``by=("tier",)`` gives margin per tier, ``("backend",)`` per backend, and so on.
    """
    unknown = [name for name in by if name not in GROUPABLE]
    if unknown:
        raise ValueError(f"cannot group usage by {unknown}; choose from {list(GROUPABLE)}")
    sums: dict[GroupKey, list[int]] = {}
    for record in records:
        key = tuple(getattr(record, name) for name in by)
        acc = sums.get(key)
        if acc is None:
            acc = sums[key] = [0] * len(_SUMS)
        for i, v in enumerate(_contribution(record)):
            acc[i] += v
    return {key: Economics(*acc) for key, acc in sums.items()}
