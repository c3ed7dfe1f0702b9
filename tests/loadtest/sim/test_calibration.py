"""The 8B preset against vLLM measurements (Llama-3-8B bf16, one H100), in virtual time.

Workload as measured: prompts of 204 tokens, 64 output tokens, Poisson arrivals. TTFT counts
the queue wait, the steps until the prefill completes, and the front end. Every figure must land
within 15 % of the measurement (of the nearer end where the measurement is a range).
"""

from __future__ import annotations

import pytest

from loadtest.sim.engine import Engine
from loadtest.sim.presets import get_preset
from loadtest.sim.virtual import (
    Summary,
    poisson_arrivals,
    run_open_loop,
    saturation_rate,
    summarize,
)

PRESET = get_preset("h100-llama3.1-8b")
PROMPT, OUTPUT = 204, 64
TOLERANCE = 0.15


def within(value: float, low: float, high: float | None = None) -> bool:
    high = low if high is None else high
    return low * (1 - TOLERANCE) <= value <= high * (1 + TOLERANCE)


def open_loop(rate: float, duration: float, max_num_seqs: int = 256) -> Summary:
    p = PRESET.with_engine(max_num_seqs=max_num_seqs)
    engine = Engine(p.engine, p.step_model, seed=1)
    arrivals = poisson_arrivals(rate, duration, PROMPT, OUTPUT, seed=7)
    timings = run_open_loop(engine, arrivals, p.frontend_s)
    return summarize(timings, window=(0.1 * duration, duration))  # skip the warm-up


@pytest.fixture(scope="module")
def light() -> Summary:
    return open_loop(rate=1.0, duration=120.0)


@pytest.fixture(scope="module")
def heavy() -> Summary:
    return open_loop(rate=92.0, duration=20.0)


def test_light_load_ttft_near_31ms(light: Summary) -> None:
    assert within(light.ttft_p50, 0.031), light


def test_light_load_itl_near_7_1ms(light: Summary) -> None:
    assert within(light.itl_mean, 0.0071), light


def test_92_rps_ttft_p50_near_45ms(heavy: Summary) -> None:
    assert within(heavy.ttft_p50, 0.045), heavy


def test_92_rps_output_near_5_7k_tokens_per_s(heavy: Summary) -> None:
    assert within(heavy.output_tokens_per_s, 5700), heavy


def test_inter_token_latency_grows_with_load(light: Summary, heavy: Summary) -> None:
    assert heavy.itl_mean > 1.5 * light.itl_mean


@pytest.mark.parametrize(("max_num_seqs", "low", "high"), [(128, 101, 106), (192, 113, 117)])
def test_saturation(max_num_seqs: int, low: float, high: float) -> None:
    p = PRESET.with_engine(max_num_seqs=max_num_seqs)
    rate = saturation_rate(Engine(p.engine, p.step_model, seed=1), PROMPT, OUTPUT, n_requests=2000)
    assert within(rate, low, high), rate


def test_overload_builds_a_queue_instead_of_more_throughput() -> None:
    # Offered 20 % above saturation: completions stay at saturation, TTFT explodes.
    s = open_loop(rate=125.0, duration=15.0, max_num_seqs=128)
    assert s.request_rate < 115
    assert s.ttft_p50 > 0.5
