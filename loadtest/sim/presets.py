"""Named simulator set-ups: a model on GPUs (the roofline) plus the engine settings vLLM would use.

``max_num_seqs`` is 256 everywhere: vLLM V1's API-server default on most GPUs and the value
published H100 serving benchmarks pin. (vLLM ≥ 0.9 picks 1024 by itself on ≥ 70 GiB GPUs other
than A100; pass ``--max-num-seqs 1024`` to reproduce that.) ``max_num_batched_tokens`` is 8192,
vLLM V1's API-server default on H100-class GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from loadtest.sim.engine import EngineConfig
from loadtest.sim.model import (
    H100_SXM,
    H200_SXM,
    LLAMA_31_8B,
    LLAMA_31_70B,
    StepModel,
    kv_cache_tokens,
)

BLOCK_SIZE = 16  # vLLM's default KV block size on CUDA
MAX_MODEL_LEN = 131072  # Llama 3.1's context window (HF config: max_position_embeddings)
MAX_NUM_SEQS = 256
MAX_NUM_BATCHED_TOKENS = 8192
# vLLM's API server (HTTP, chat template, tokenisation, the hop to the engine core, detokenising)
# adds this to every TTFT. DESIGN.md says ≈ 15 ms; with this roofline 20 ms lands both measured
# TTFT points (31 ms at 1 req/s, 45 ms p50 at 92 req/s) within 6 %; 15 ms leaves the first
# 21 % short.
FRONTEND_S = 0.020


@dataclass(frozen=True, slots=True)
class Preset:
    """Everything a simulated server needs: how steps are priced, how the engine schedules."""

    name: str
    description: str
    step_model: StepModel | None  # None: steps take no time (zero-delay)
    engine: EngineConfig
    frontend_s: float  # added before a request reaches the engine
    default_model: str

    def with_engine(self, **changes: int | float) -> Preset:
        """This preset with some engine settings replaced (e.g. ``max_num_seqs=128``)."""
        return replace(self, engine=replace(self.engine, **changes))


def _engine_for(m: StepModel) -> EngineConfig:
    return EngineConfig(
        max_num_seqs=MAX_NUM_SEQS,
        max_num_batched_tokens=MAX_NUM_BATCHED_TOKENS,
        block_size=BLOCK_SIZE,
        num_kv_blocks=kv_cache_tokens(m) // BLOCK_SIZE,
        max_model_len=MAX_MODEL_LEN,
    )


def _gpu_preset(name: str, description: str, m: StepModel, model: str) -> Preset:
    return Preset(name, description, m, _engine_for(m), FRONTEND_S, model)


_8B = StepModel(gpu=H100_SXM, arch=LLAMA_31_8B)
_8B_FP8 = StepModel(
    gpu=H100_SXM, arch=LLAMA_31_8B, weight_bytes=1.0, kv_bytes=1.0, fp8_compute=True
)
_70B_TP4 = StepModel(gpu=H100_SXM, arch=LLAMA_31_70B, tp=4)
_70B_TP4_FP8 = replace(_70B_TP4, weight_bytes=1.0, kv_bytes=1.0, fp8_compute=True)
_8B_H200 = StepModel(gpu=H200_SXM, arch=LLAMA_31_8B)

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        _gpu_preset(
            "h100-llama3.1-8b",
            "Llama-3.1-8B bf16 on 1x H100 SXM (calibrated against vLLM)",
            _8B,
            "meta-llama/Llama-3.1-8B-Instruct",
        ),
        _gpu_preset(
            "h100-llama3.1-8b-fp8",
            "Llama-3.1-8B FP8 weights and KV on 1x H100 SXM",
            _8B_FP8,
            "meta-llama/Llama-3.1-8B-Instruct",
        ),
        _gpu_preset(
            "h200-llama3.1-8b",
            "Llama-3.1-8B bf16 on 1x H200 SXM",
            _8B_H200,
            "meta-llama/Llama-3.1-8B-Instruct",
        ),
        _gpu_preset(
            "h100x4-llama3.1-70b",
            "Llama-3.1-70B bf16 on 4x H100 SXM, tensor parallel 4",
            _70B_TP4,
            "meta-llama/Llama-3.1-70B-Instruct",
        ),
        _gpu_preset(
            "h100x4-llama3.1-70b-fp8",
            "Llama-3.1-70B FP8 weights and KV on 4x H100 SXM, tensor parallel 4",
            _70B_TP4_FP8,
            "meta-llama/Llama-3.1-70B-Instruct",
        ),
        Preset(
            "zero-delay",
            "steps take no time: measures the proxy in front, not the GPU",
            None,
            EngineConfig(
                max_num_seqs=4096,
                max_num_batched_tokens=1 << 30,
                block_size=BLOCK_SIZE,
                num_kv_blocks=(1 << 30) // BLOCK_SIZE,
                max_model_len=MAX_MODEL_LEN,
                jitter=0.0,
            ),
            0.0,
            "meta-llama/Llama-3.1-8B-Instruct",
        ),
    )
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; valid: {', '.join(PRESETS)}") from None
