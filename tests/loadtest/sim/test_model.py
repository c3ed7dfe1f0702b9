"""The step-time roofline against hand calculations from stated constants."""

from __future__ import annotations

import math

import pytest

from loadtest.sim.model import (
    H100_SXM,
    LLAMA_31_8B,
    LLAMA_31_70B,
    BatchShape,
    StepModel,
    kv_cache_tokens,
    step_time,
)
from loadtest.sim.presets import get_preset

# The numbers of DESIGN.md, written out so the test does not lean on the code under test.
PEAK = 989e12  # H100 bf16 dense FLOP/s
BW = 0.8 * 3.35e12  # 80 % of H100 HBM3 bandwidth
MFU, MFU_ATTN, T0 = 0.6, 0.4, 1e-3
P8B, L8B, D8B, KV8B = 8.03e9, 32, 4096, 131072  # params, layers, d_model, KV bytes per token
P70B, L70B, D70B, KV70B = 70.6e9, 80, 8192, 327680
ALLREDUCE = 25e-6

M8B = get_preset("h100-llama3.1-8b").step_model
M70B = get_preset("h100x4-llama3.1-70b").step_model


def test_kv_bytes_per_token_match_the_model_cards() -> None:
    assert StepModel(H100_SXM, LLAMA_31_8B).kv_bytes_per_token == KV8B
    assert StepModel(H100_SXM, LLAMA_31_70B).kv_bytes_per_token == KV70B


def test_decode_step_of_64_sequences_matches_hand_calculation() -> None:
    # 64 sequences decoding, each attending to 1,000 tokens of context.
    t_w = P8B * 2 / BW  # 5.99 ms: bf16 weights streamed once
    t_c = 64 * 2 * P8B / (MFU * PEAK)  # 1.73 ms
    t_kv = 64 * 1000 * KV8B / BW  # 3.13 ms
    expected = T0 + math.sqrt(t_w**2 + t_c**2) + t_kv
    assert expected == pytest.approx(10.37e-3, abs=0.01e-3)  # the hand sum, in ms
    assert M8B is not None
    got = step_time(M8B, BatchShape(n_decode=64, decode_context_tokens=64 * 1000))
    assert got == pytest.approx(expected, rel=1e-9)
    assert 64 / got == pytest.approx(6173, rel=1e-3)  # output tokens/s of that batch


def test_single_sequence_decode_is_weight_bound_near_7ms() -> None:
    assert M8B is not None
    got = step_time(M8B, BatchShape(n_decode=1, decode_context_tokens=300))
    t_w = P8B * 2 / BW
    t_c = 2 * P8B / (MFU * PEAK)
    assert got == pytest.approx(T0 + math.sqrt(t_w**2 + t_c**2) + 300 * KV8B / BW, rel=1e-9)
    assert 6.9e-3 < got < 7.1e-3


def test_prefill_chunk_attention_grows_with_its_prefix() -> None:
    # One 2,048-token chunk of a prompt whose first 6,144 tokens are already cached.
    assert M8B is not None
    chunk, prefix = 2048, 6144
    t_w = P8B * 2 / BW
    t_c = chunk * 2 * P8B / (MFU * PEAK)
    t_attn = chunk * (prefix + chunk / 2) * 4 * L8B * D8B / (MFU_ATTN * PEAK)
    expected = T0 + math.sqrt(t_w**2 + t_c**2) + t_attn
    assert step_time(M8B, BatchShape(prefill=((chunk, prefix),))) == pytest.approx(expected)
    assert step_time(M8B, BatchShape(prefill=((chunk, 0),))) < expected


def test_tensor_parallel_splits_work_and_pays_allreduce() -> None:
    # 70B on 4 GPUs, 32 decodes at 2,000 tokens of context.
    assert M70B is not None
    t_w = P70B * 2 / 4 / BW
    t_c = 32 * 2 * P70B / 4 / (MFU * PEAK)
    t_kv = 32 * 2000 * KV70B / 4 / BW
    t_tp = 2 * L70B * ALLREDUCE
    expected = T0 + math.sqrt(t_w**2 + t_c**2) + t_kv + t_tp
    got = step_time(M70B, BatchShape(n_decode=32, decode_context_tokens=32 * 2000))
    assert got == pytest.approx(expected, rel=1e-9)


def test_fp8_halves_weight_stream_and_kv_bytes() -> None:
    bf16 = StepModel(H100_SXM, LLAMA_31_8B)
    fp8 = StepModel(H100_SXM, LLAMA_31_8B, weight_bytes=1.0, kv_bytes=1.0, fp8_compute=True)
    assert fp8.weight_bytes_per_gpu == bf16.weight_bytes_per_gpu / 2
    assert fp8.kv_bytes_per_token == bf16.kv_bytes_per_token / 2
    one = BatchShape(n_decode=1, decode_context_tokens=100)
    assert step_time(fp8, one) < step_time(bf16, one)
    assert kv_cache_tokens(fp8) > 2 * kv_cache_tokens(bf16)


@pytest.mark.parametrize(
    ("preset", "low", "high"),
    [("h100-llama3.1-8b", 380_000, 420_000), ("h100x4-llama3.1-70b", 380_000, 420_000)],
)
def test_kv_cache_holds_about_400k_tokens(preset: str, low: int, high: int) -> None:
    assert low < get_preset(preset).engine.kv_tokens < high


def test_larger_batches_raise_throughput_and_lower_per_user_speed() -> None:
    assert M8B is not None
    batches = (1, 8, 32, 128, 256)
    steps = [step_time(M8B, BatchShape(n_decode=b, decode_context_tokens=b * 500)) for b in batches]
    throughput = [b / t for b, t in zip(batches, steps, strict=True)]
    per_user = [1 / t for t in steps]
    assert throughput == sorted(throughput)
    assert per_user == sorted(per_user, reverse=True)
    assert throughput[-1] > 10 * throughput[0]


def test_an_empty_step_takes_no_time() -> None:
    assert M8B is not None
    assert step_time(M8B, BatchShape()) == 0.0
