"""The summary of hand-made records: windows, tiers, goodput, and no coordinated omission."""

from __future__ import annotations

import pytest

from loadtest.config import RunConfig
from loadtest.profiles import ConcurrencyProfile, PoissonProfile
from loadtest.record import RequestRecord
from loadtest.result import RunResult
from loadtest.summary import summarize


def config(**extra: object) -> RunConfig:
    base: dict[str, object] = {
        "base_url": "http://sim.invalid",
        "model": "m",
        "tiers": [
            {"name": "fast", "api_key": "a", "share": 1},
            {"name": "eco", "api_key": "b", "share": 3},
        ],
        "profile": {"kind": "poisson", "rate": 10},
        "duration_s": 1,
    }
    return RunConfig.model_validate(base | extra)


def rec(
    i: int,
    intended: float,
    *,
    sent: float | None = None,
    first: float | None = None,
    end: float,
    tokens: int = 11,
    tier: str = "eco",
    error: str | None = None,
    warmup: bool = False,
    gaps: list[float] | None = None,
) -> RequestRecord:
    return RequestRecord(
        index=i,
        tier=tier,
        intended_s=intended,
        sent_s=intended if sent is None else sent,
        end_s=end,
        first_token_s=first,
        itl_s=gaps or [],
        prompt_tokens=100,
        completion_tokens=None if error else tokens,
        error_kind=error,
        warmup=warmup,
    )


def run(records: list[RequestRecord], cfg: RunConfig | None = None, **kw: object) -> dict:
    cfg = cfg or config()
    profile = kw.pop("profile", cfg.profile)
    result = RunResult(cfg, profile, records, started_at=0.0, wall_duration_s=5.0, **kw)  # type: ignore[arg-type]
    return summarize(result)


def test_stalled_server_shows_latency_from_the_intended_send() -> None:
    """Ten requests due every 100 ms; the server answers nothing until t = 3 s."""
    records = [rec(i, i / 10, first=3.0, end=3.1, tokens=2) for i in range(10)]
    o = run(records)["overall"]
    assert o["mean_ttft_ms"] == pytest.approx(3000 - 450)  # 3000, 2900, ..., 2100 ms
    assert o["p50_ttft_ms"] == pytest.approx(2550)
    assert o["max_schedule_lag_ms"] == 0.0  # sent on time: the wait is the server's


def test_a_late_send_counts_in_the_latency_and_the_lag() -> None:
    """A client that sent 2 s late (coordinated omission) cannot hide it: TTFT runs from 0."""
    records = [rec(0, 0.0, sent=2.0, first=2.05, end=2.15, tokens=2)]
    o = run(records)["overall"]
    assert o["p50_ttft_ms"] == pytest.approx(2050)
    assert o["p50_e2el_ms"] == pytest.approx(2150)
    assert o["max_schedule_lag_ms"] == pytest.approx(2000)


def test_closed_loop_says_latency_runs_from_the_actual_send() -> None:
    s = run([rec(0, 0.0, first=0.1, end=0.2)], profile=ConcurrencyProfile(users=1))
    assert s["run"]["latency_origin"] == "actual_send"
    assert run([rec(0, 0.0, first=0.1, end=0.2)])["run"]["latency_origin"] == "intended_send"


def test_warmup_is_left_out_and_throughput_uses_the_measured_window() -> None:
    records = [
        rec(0, 0.0, first=0.1, end=5.0, warmup=True),  # would stretch the window if counted
        rec(1, 1.0, first=1.1, end=1.5, tokens=11),
        rec(2, 2.0, first=2.1, end=3.0, tokens=21),
    ]
    o = run(records)["overall"]
    assert o["requests"] == 2 and o["warmup_requests"] == 1
    # window: first measured intended send (1.0) to last measured end (3.0)
    assert o["request_throughput"] == pytest.approx(2 / 2.0)
    assert o["output_throughput"] == pytest.approx(32 / 2.0)
    assert o["total_token_throughput"] == pytest.approx((200 + 32) / 2.0)


def test_tpot_itl_and_per_user_speed() -> None:
    # TTFT 100 ms, E2E 1100 ms, 11 tokens → TPOT 100 ms → 10 tok/s for that user
    records = [
        rec(0, 0.0, first=0.1, end=1.1, tokens=11, gaps=[0.1] * 10),
        rec(1, 0.0, first=0.1, end=0.6, tokens=11, gaps=[0.05] * 10),
    ]
    o = run(records)["overall"]
    assert o["mean_tpot_ms"] == pytest.approx(75.0)
    assert o["median_itl_ms"] == pytest.approx(75.0)
    assert o["p99_itl_ms"] == pytest.approx(100.0)
    assert o["mean_tok_s_per_user"] == pytest.approx((10 + 20) / 2)
    assert o["median_tok_s_per_user"] == pytest.approx(15.0)


def test_per_tier_and_errors() -> None:
    records = [
        rec(0, 0.0, first=0.05, end=0.5, tier="fast"),
        rec(1, 0.1, first=0.4, end=0.9, tier="eco"),
        rec(2, 0.2, end=0.3, tier="eco", error="http_429"),
        rec(3, 0.3, end=0.3, tier="eco", error="http_429"),
    ]
    s = run(records)
    assert s["overall"]["errors"] == {"http_429": 2}
    assert s["overall"]["failed"] == 2
    assert s["tiers"]["fast"]["p50_ttft_ms"] == pytest.approx(50)
    assert s["tiers"]["eco"]["p50_ttft_ms"] == pytest.approx(300)
    assert s["tiers"]["eco"]["requests"] == 3
    # tiers share the overall window, so their throughputs add up
    total = s["tiers"]["fast"]["request_throughput"] + s["tiers"]["eco"]["request_throughput"]
    assert total == pytest.approx(s["overall"]["request_throughput"])


def test_goodput_counts_requests_meeting_every_slo() -> None:
    cfg = config(slo={"ttft_ms": 200, "tpot_ms": 50})
    records = [
        rec(0, 0.0, first=0.1, end=0.6, tokens=11),  # TTFT 100, TPOT 50: good
        rec(1, 0.0, first=0.3, end=0.5, tokens=11),  # TTFT 300: bad
        rec(2, 0.0, first=0.1, end=1.1, tokens=11),  # TPOT 100: bad
        rec(3, 0.0, end=2.0, error="timeout"),  # failed: never good
    ]
    o = run(records, cfg)["overall"]
    assert o["request_goodput"] == pytest.approx(1 / 2.0)  # window 0 → 2.0 s
    assert o["slo_attainment"] == pytest.approx(0.25)


def test_per_gpu_and_cost_from_the_gateway() -> None:
    usage = {
        "total": {
            "requests": 2,
            "prompt_tokens": 800_000,
            "completion_tokens": 200_000,
            "charge_usd": 3.0,
            "gpu_cost_usd": 1.5,
        },
        "groups": [
            {
                "tenant": "t1",
                "tier": "eco",
                "prompt_tokens": 500_000,
                "completion_tokens": 0,
                "charge_usd": 1.0,
                "gpu_cost_usd": 1.0,
            },
            {
                "tenant": "t2",
                "tier": "eco",
                "prompt_tokens": 500_000,
                "completion_tokens": 0,
                "charge_usd": 1.0,
                "gpu_cost_usd": 0.0,
            },
        ],
    }
    s = run([rec(0, 0.0, first=0.1, end=1.0, tokens=101)], gpus=4, usage=usage)
    assert s["overall"]["output_throughput_per_gpu"] == pytest.approx(101 / 1.0 / 4)
    assert s["cost"]["charge_per_mtok_usd"] == pytest.approx(3.0)
    assert s["cost"]["cost_per_mtok_usd"] == pytest.approx(1.5)
    assert s["tiers"]["eco"]["cost"]["charge_per_mtok_usd"] == pytest.approx(2.0)
    assert s["tiers"]["fast"]["cost"] is None


def test_summary_without_gateway_extras() -> None:
    s = run([rec(0, 0.0, first=0.1, end=1.0)], profile=PoissonProfile(rate=10))
    assert s["cost"] is None
    assert s["overall"]["output_throughput_per_gpu"] is None
    assert s["overall"]["request_goodput"] is None
