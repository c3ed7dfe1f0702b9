"""Folding usage records into cost per 1M tokens and margin, by any grouping."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.metering.attribution import BackendCostMeter
from gateway.metering.economics import Economics, cost_per_mtok_usd, fold_usage
from gateway.metering.pricing import Prices, charge_nano
from gateway.metering.record import UsageRecord


def record(request_id: str, **overrides: Any) -> UsageRecord:
    values: dict[str, Any] = {
        "request_id": request_id,
        "ts": 1_700_000_000.0,
        "tenant": "a",
        "key_id": "k1",
        "tier": "fast",
        "model": "llama-8b",
        "backend": "gpu-a",
        "prompt_tokens": 0,
        "cached_tokens": 0,
        "completion_tokens": 0,
        "usage_source": "engine",
        "queue_ms": 0.0,
        "ttft_ms": 10.0,
        "e2e_ms": 100.0,
        "charge_nano": 0,
        "gpu_cost_nano": 0,
        "gpu_seconds": 0.0,
        "attribution": "streamed",
        "used_reserve": False,
    }
    values.update(overrides)
    return UsageRecord(**values)


RECORDS = [
    record(
        "r1",
        prompt_tokens=1000,
        cached_tokens=600,
        completion_tokens=200,
        charge_nano=200_000,
        gpu_cost_nano=50_000,
        gpu_seconds=0.1,
    ),
    record(
        "r2",
        completion_tokens=800,
        charge_nano=300_000,
        gpu_cost_nano=150_000,
        gpu_seconds=0.3,
        backend="gpu-b",
    ),
    record(
        "r3",
        tenant="b",
        tier="cheap",
        prompt_tokens=4000,
        completion_tokens=1000,
        charge_nano=100_000,
        gpu_cost_nano=150_000,
        gpu_seconds=0.25,
    ),
]


def test_fold_by_tier() -> None:
    got = fold_usage(RECORDS, by=("tier",))
    assert got == {
        ("fast",): Economics(2, 1000, 600, 1000, 500_000, 200_000, 400_000_000),
        ("cheap",): Economics(1, 4000, 0, 1000, 100_000, 150_000, 250_000_000),
    }
    fast, cheap = got[("fast",)], got[("cheap",)]
    # fast: 200_000 nano over 2000 tokens = 100 nano/token = $0.1 per 1M; 200 per output token
    assert (fast.cost_per_mtok_usd, fast.cost_per_output_mtok_usd) == (0.1, 0.2)
    assert (fast.margin_nano, fast.margin_ratio, fast.gpu_seconds) == (300_000, 0.6, 0.4)
    # cheap sells below cost: 100_000 charged, 150_000 spent
    assert (cheap.margin_nano, cheap.margin_ratio, cheap.cost_per_mtok_usd) == (-50_000, -0.5, 0.03)


def test_fold_by_several_labels_keys_them_in_order() -> None:
    got = fold_usage(RECORDS, by=("tenant", "backend"))
    assert {k: v.requests for k, v in got.items()} == {
        ("a", "gpu-a"): 1,
        ("a", "gpu-b"): 1,
        ("b", "gpu-a"): 1,
    }


def test_fold_everything_and_nothing() -> None:
    total = fold_usage(RECORDS)[()]
    assert (total.requests, total.tokens, total.charge_nano, total.gpu_cost_nano) == (
        3,
        7000,
        600_000,
        350_000,
    )
    assert fold_usage([]) == {}
    assert fold_usage([], by=("tier",)) == {}


def test_an_empty_total_has_no_ratios() -> None:
    empty = Economics()
    assert (empty.cost_per_mtok_usd, empty.margin_ratio, empty.margin_nano) == (None, None, 0)


def test_unknown_grouping_names_the_choices() -> None:
    with pytest.raises(ValueError, match="choose from"):
        fold_usage(RECORDS, by=("colour",))


def test_to_json_reports_usd_and_ratios() -> None:
    j = fold_usage(RECORDS, by=("tier",))[("fast",)].to_json()
    assert j["charge_usd"] == 0.0005
    assert j["gpu_cost_usd"] == 0.0002
    assert j["margin_usd"] == 0.0003
    assert j["total_tokens"] == 2000
    assert j["cost_per_mtok_usd"] == 0.1
    assert j["margin_ratio"] == 0.6


@pytest.mark.parametrize(
    ("cost", "tokens", "usd"), [(555_555, 10_000, 0.0555555), (1_000, 0, None), (0, 5, 0.0)]
)
def test_cost_per_mtok(cost: int, tokens: int, usd: float | None) -> None:
    assert cost_per_mtok_usd(cost, tokens) == usd


def test_meter_to_margin_end_to_end() -> None:
    """Ten streams at 1000 tokens/s each on one $2/GPU-hour GPU: $0.0556 per 1M output tokens.

    Sold at $0.42 per 1M output tokens, each 1000-token request earns 420_000 nano-dollars.
    """
    meter = BackendCostMeter(1, 2.0, 0.0, 0.0)
    prices = Prices(input=0.28, output=0.42)
    ids = [f"r{i}" for i in range(10)]
    for rid in ids:
        meter.dispatch(rid, 0, 0.0, streamed=True)
    for step in range(1, 11):
        for rid in ids:
            meter.tokens(rid, 100, step / 10)
    records = []
    for rid in ids:
        cost = meter.finish(rid, 1.0, 1000)
        charge = charge_nano(prices, 0, 0, 1000)
        records.append(
            record(
                rid,
                completion_tokens=1000,
                charge_nano=charge,
                gpu_cost_nano=cost.cost_nano,
                gpu_seconds=cost.gpu_seconds,
            )
        )
    total = fold_usage(records, by=("backend",))[("gpu-a",)]
    assert (total.charge_nano, total.gpu_cost_nano) == (4_200_000, 555_555)
    assert round(total.cost_per_mtok_usd or 0, 4) == 0.0556
    assert total.margin_nano == 3_644_445
