"""``tokengate compare``: price solving on hand-made numbers, config rewriting, and one real run.

The end-to-end run uses two tiny configs on the simulated H100 at 10x real time: its checks are
arithmetic on the files it writes and floors the gateway guarantees, never timings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.cli import main
from gateway.config.loader import parse_config
from loadtest.compare.points import (
    charges_usd,
    cost_per_output_mtok,
    harness_notes,
    operating_point,
    prices_for_cost,
)
from loadtest.compare.scenario import (
    ADMIN_KEY,
    infer_preset,
    parse_sim_presets,
    prepare,
    scale_tree,
    scenario_names,
    tier_key,
)
from loadtest.record import RequestRecord

ENGINE = "meta-llama/Llama-3.1-8B-Instruct"


def tree(**tiers: dict[str, Any]) -> dict[str, Any]:
    return {
        "backends": [
            {
                "name": "gpu-1",
                "url": "${ENGINE_URL}",  # unset: compare rewrites it anyway
                "models": {"llama-3.1-8b": ENGINE},
                "capacity": 16,
                "gpus": 1,
                "gpu_hour_usd": 2.0,
            }
        ],
        "tiers": tiers or {"standard": {"prices": {"input": 0.2, "output": 0.6}}},
        "keys": [
            {"key": "${SOME_KEY}", "tenant": "t", "tier": next(iter(tiers or {"standard": 0}))}
        ],
    }


TIERED = {
    "scheduler": {"queue": {"policy": "priority"}},
    "tiers": {
        "fast": {"prices": {"input": 0.6, "output": 2.4}, "priority": 10},
        "economy": {
            "prices": {"input": 0.14, "output": 0.28},
            "min_ttft_ms": 1000,
            "max_output_tokens_per_s": 25,
            "max_context": 65536,
            "batch": {"policy": "window", "max_wait_ms": 800, "min_batch": 4},
        },
    },
}


# ---- price solving on hand-made numbers ----------------------------------------------------


@pytest.mark.parametrize(
    ("usd_per_hour", "tok_s", "expected"),
    [
        (3.6, 1000.0, 1.0),  # 0.001 USD/s over 1000 tok/s: 1e-6 USD per token
        (10.0, 2000.0, 10 / 3600 / 2000 * 1e6),
        (2.0, 0.0, None),
        (2.0, None, None),
    ],
)
def test_cost_per_output_mtok(
    usd_per_hour: float, tok_s: float | None, expected: float | None
) -> None:
    got = cost_per_output_mtok(usd_per_hour, tok_s)
    assert got == pytest.approx(expected) if expected is not None else got is None


@pytest.mark.parametrize(
    ("cost", "margin", "break_even", "at_margin"),
    [
        (2.1, 0.3, 2.1, 3.0),
        (1.0, 0.5, 1.0, 2.0),
        (4.0, 0.0, 4.0, 4.0),
        (1.0, -0.25, 1.0, 0.8),  # selling below cost
        (None, 0.3, None, None),
    ],
)
def test_prices_for_cost(
    cost: float | None, margin: float, break_even: float | None, at_margin: float | None
) -> None:
    assert prices_for_cost(cost, margin) == (break_even, at_margin)


def test_operating_point_converts_to_simulated_time() -> None:
    group = {
        "completed": 10, "failed": 0, "request_throughput": 20.0, "output_throughput": 20000.0,
        "total_output_tokens": 1_000_000, "median_tok_s_per_user": 400.0,
        "p10_tok_s_per_user": 200.0, "p50_ttft_ms": 50.0, "p99_ttft_ms": 120.0,
        "p99_schedule_lag_ms": 3.0,
    }  # fmt: skip
    p = operating_point(
        group, config="a", tier="all", load=2.0, time_scale=10.0, gpus=4,
        fleet_usd_per_hour=7.2, margin=0.5, charge_usd=3.0,
    )  # fmt: skip
    assert p["output_tok_s"] == 2000.0
    assert p["output_tok_s_per_gpu"] == 500.0
    assert p["request_throughput"] == 2.0
    assert p["tok_s_per_user"] == 40.0
    assert (p["p50_ttft_ms"], p["p99_ttft_ms"]) == (500.0, 1200.0)
    assert p["cost_per_mtok_out_usd"] == pytest.approx(1.0)  # 0.002 USD/s over 2000 tok/s
    assert p["break_even_usd"] == pytest.approx(1.0)
    assert p["price_at_margin_usd"] == pytest.approx(2.0)
    assert p["charge_per_mtok_out_usd"] == 3.0
    assert p["margin_at_config_prices"] == pytest.approx(2 / 3)
    assert p["p99_schedule_lag_wall_ms"] == 3.0


def test_class_rows_carry_the_fleet_figures() -> None:
    group = {"completed": 1, "failed": 0, "output_throughput": 100.0, "total_output_tokens": 10}
    p = operating_point(
        group, config="a", tier="fast", load=1.0, time_scale=1.0, gpus=2,
        fleet_usd_per_hour=None, margin=0.2, cost_per_mtok_out=5.0, fleet_tok_s_per_gpu=400.0,
    )  # fmt: skip
    assert (p["cost_per_mtok_out_usd"], p["break_even_usd"], p["price_at_margin_usd"]) == (
        5.0,
        5.0,
        6.25,
    )
    assert (p["output_tok_s_per_gpu"], p["class_output_tok_s"]) == (400.0, 100.0)


def test_charges_follow_each_class_tier_prices() -> None:
    def rec(tier: str, prompt: int, out: int, **kw: Any) -> RequestRecord:
        return RequestRecord(
            0, tier, 0.0, 0.0, 1.0, prompt_tokens=prompt, completion_tokens=out, **kw
        )

    records = [
        rec("fast", 1_000_000, 1_000_000),  # 1 USD in + 2 USD out
        rec("economy", 0, 1_000_000),  # 0.5 USD
        rec("economy", 0, 1_000_000, warmup=True),  # left out
        rec("economy", 0, 1_000_000, error_kind="http_500"),  # left out
    ]
    prices = {"fast": {"input": 1.0, "output": 2.0}, "standard": {"input": 0.1, "output": 0.5}}
    got = charges_usd(records, lambda c: "fast" if c == "fast" else "standard", prices)
    assert got == {"all": 3.5, "fast": 3.0, "economy": 0.5}


def test_harness_notes_flag_late_generators() -> None:
    points = [
        {"config": "a", "tier": "all", "offered_rate": 4.0, "p99_schedule_lag_wall_ms": 90.0},
        {"config": "a", "tier": "all", "offered_rate": 2.0, "p99_schedule_lag_wall_ms": 1.0},
    ]
    notes = harness_notes(points)
    assert len(notes) == 1 and "a at 4 req/s" in notes[0]


# ---- rewriting configs ---------------------------------------------------------------------


def test_time_scale_divides_durations_and_multiplies_rates() -> None:
    cfg = parse_config(tree() | TIERED | {"keys": []}, env={"ENGINE_URL": "http://x:1"})
    dumped = cfg.model_dump(mode="json")
    dumped["scheduler"]["queue"] = {"policy": "sjf"}
    scaled = scale_tree(dumped, 10.0)
    eco, fast = scaled["tiers"]["economy"], scaled["tiers"]["fast"]
    assert eco["min_ttft_ms"] == 100.0
    assert eco["ttft_target_ms"] == 100.0  # its default max(floor, 1000 ms), scaled
    assert fast["ttft_target_ms"] == 100.0
    assert eco["queue_timeout_ms"] == 3000.0
    assert eco["max_output_tokens_per_s"] == 250.0
    assert eco["batch"] == {"policy": "window", "max_wait_ms": 80.0, "min_batch": 4,
                            "max_batch": None}  # fmt: skip
    assert fast["batch"] == {"policy": "continuous"}
    assert scaled["scheduler"]["queue"] == {"policy": "sjf", "aging_tokens_per_s": 1000.0}
    assert scaled["scheduler"]["route"]["policy"] == "least_loaded"
    assert scale_tree(dumped, 1.0) == dumped


@pytest.mark.parametrize(
    ("engine", "gpus", "preset"),
    [
        ("meta-llama/Llama-3.1-8B-Instruct", 1, "h100-llama3.1-8b"),
        ("neuralmagic/Meta-Llama-3.1-8B-Instruct-FP8", 1, "h100-llama3.1-8b-fp8"),
        ("meta-llama/Llama-3.1-70B-Instruct", 4, "h100x4-llama3.1-70b"),
        ("meta-llama/Llama-3.1-70B-Instruct", 8, None),
        ("Qwen/Qwen2.5-7B", 1, None),
        ("llama-3.1-18b", 1, None),
    ],
)
def test_infer_preset(engine: str, gpus: int, preset: str | None) -> None:
    assert infer_preset(engine, gpus) == preset


def test_sim_presets_and_names() -> None:
    assert parse_sim_presets(["zero-delay", "gpu-1=h100-llama3.1-8b"]) == {
        "*": "zero-delay",
        "gpu-1": "h100-llama3.1-8b",
    }
    with pytest.raises(ValueError, match="unknown preset"):
        parse_sim_presets(["gpu-1=h100-nope"])
    assert scenario_names([Path("a/x.yaml"), Path("b/x.yaml"), Path("y.yml")]) == [
        "x-1",
        "x-2",
        "y",
    ]


def test_prepare_owns_keys_state_and_urls() -> None:
    raw = tree() | TIERED
    raw["keys"] = [{"key": "${SOME_KEY}", "tenant": "t", "tier": "fast"}]
    raw["state"] = {"kind": "redis", "redis_url": "redis://10.0.0.1:6379/0"}
    cfg = parse_config(raw, env={"ENGINE_URL": "http://x:1", "SOME_KEY": "sk-something-long"})
    sc = prepare(cfg, name="tiered", source="t.yaml", time_scale=5.0)
    assert [(s.name, s.preset, s.gpus) for s in sc.sims] == [("gpu-1", "h100-llama3.1-8b", 1)]
    assert (sc.gpus, sc.fleet_usd_per_hour, sc.model) == (1, 2.0, "llama-3.1-8b")
    assert sc.tier_for("economy") == "economy" and sc.tier_for("batch") == "fast"
    gw = sc.gateway_config(["http://127.0.0.1:4242"])
    assert gw.backends[0].url == "http://127.0.0.1:4242"
    assert gw.state.kind == "memory"
    assert {k.key for k in gw.keys} == {tier_key("fast"), tier_key("economy"), ADMIN_KEY}
    assert gw.tiers["economy"].min_ttft_ms == 200.0
    with pytest.raises(ValueError, match="--sim-preset gpu-1=PRESET"):
        prepare(cfg.model_copy(update={"backends": [cfg.backends[0].model_copy(
            update={"gpus": 3})]}), name="x", source="x.yaml")  # fmt: skip


# ---- end to end ----------------------------------------------------------------------------


def test_compare_end_to_end(tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    tiered = tmp_path / "tiered.yaml"
    plain.write_text(yaml.safe_dump(tree()))
    tiered.write_text(yaml.safe_dump(tree() | TIERED | {"keys": []}))
    out = tmp_path / "out"
    scale, margin = 10.0, 0.25
    code = main([
        "compare", str(plain), str(tiered), "--time-scale", str(scale), "--rates", "2,4",
        "--duration", "3s", "--mix", "fast=0.4,economy=0.6", "--prompt-tokens", "uniform:50:150",
        "--output-tokens", "12", "--seed", "7", "--margin", str(margin), "--keep-going",
        "--no-progress", "--no-report", "--out", str(out),
    ])  # fmt: skip
    assert code == 0
    for name in ("compare.json", "compare.md", "compare.html", "frontier.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "frontier.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "compare.html").read_text()
    assert "data:image/png;base64," in html
    assert 'src="http' not in html and "<script" not in html and "<link" not in html
    doc = json.loads((out / "compare.json").read_text())
    assert [c["name"] for c in doc["configs"]] == ["plain", "tiered"]
    assert doc["time_scale"] == scale and doc["clock"] == "simulated GPU time"
    overall = [p for p in doc["points"] if p["tier"] == "all"]
    assert [(p["config"], p["offered_rate"]) for p in overall] == [
        ("plain", 2.0), ("plain", 4.0), ("tiered", 2.0), ("tiered", 4.0)
    ]  # fmt: skip
    for p in doc["points"]:
        assert p["completed"] > 0 and p["failed"] == 0
        step = json.loads((out / p["dir"] / "summary.json").read_text())["overall"]
        if p["tier"] == "all":
            # Fleet of 1 GPU at 2 USD/h; the step's own output rate is wall clock.
            out_tok_s = step["output_throughput"] / scale
            assert p["output_tok_s_per_gpu"] == pytest.approx(out_tok_s)
            assert p["cost_per_mtok_out_usd"] == pytest.approx(2.0 / 3600 / out_tok_s * 1e6)
            assert p["p50_ttft_ms"] == pytest.approx(step["p50_ttft_ms"] * scale)
        assert p["break_even_usd"] == pytest.approx(p["cost_per_mtok_out_usd"], abs=1e-9)
        assert p["price_at_margin_usd"] == pytest.approx(
            p["cost_per_mtok_out_usd"] / (1 - margin), abs=1e-9
        )
        assert p["tok_s_per_user"] > 0 and p["p99_ttft_ms"] >= p["p50_ttft_ms"] > 0
    by = {(p["config"], p["tier"], p["offered_rate"]): p for p in doc["points"]}
    for rate in (2.0, 4.0):
        # The economy floor (1000 ms, 100 ms on the wall at 10x) holds on the simulated clock.
        assert by[("tiered", "economy", rate)]["p50_ttft_ms"] >= 1000.0
        assert by[("plain", "economy", rate)]["served_by"] == "standard"
        # Same seeded workload: the same requests reached both configs.
        assert by[("plain", "all", rate)]["completed"] == by[("tiered", "all", rate)]["completed"]
        # Output only: 12 tokens each at 0.6 USD/1M plus prompts at 0.2; the charge covers both.
        assert by[("plain", "all", rate)]["charge_per_mtok_out_usd"] > 0.6
    md = (out / "compare.md").read_text()
    assert "| plain | 2 | all |" in md and "| economy → economy |" in md
