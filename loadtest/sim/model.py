"""Step-time roofline of a continuous-batching engine: how long one forward pass takes.

Pure: hardware and model constants in, seconds out. The engine (``engine.py``) decides
*what* runs in a step; this module only prices it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

GB = 1e9


@dataclass(frozen=True, slots=True)
class Gpu:
    """One accelerator: what bounds a step (FLOPs, HBM bandwidth) and what holds the KV cache."""

    name: str
    peak_flops: float  # dense bf16 tensor FLOP/s, no sparsity
    hbm_bandwidth: float  # peak HBM bytes/s
    hbm_bytes: float  # HBM capacity
    bandwidth_efficiency: float = 0.8  # achievable share of peak bandwidth in decode GEMV/attention


# NVIDIA H100 SXM5 datasheet: 989.4 TFLOPS dense bf16 (1,979 with sparsity), 3.35 TB/s HBM3, 80 GB.
H100_SXM = Gpu(name="H100-SXM-80GB", peak_flops=989e12, hbm_bandwidth=3.35e12, hbm_bytes=80 * GB)
# NVIDIA H200 datasheet: same Hopper compute, 4.8 TB/s HBM3e, 141 GB.
H200_SXM = Gpu(name="H200-SXM-141GB", peak_flops=989e12, hbm_bandwidth=4.8e12, hbm_bytes=141 * GB)


@dataclass(frozen=True, slots=True)
class ModelArch:
    """A dense decoder-only transformer: what a token costs in FLOPs and KV bytes."""

    name: str
    n_params: float
    n_layers: int
    d_model: int
    n_kv_heads: int
    head_dim: int

    def kv_elements_per_token(self) -> int:
        """K and V, every layer, every KV head (GQA): 2·L·n_kv·d_head."""
        return 2 * self.n_layers * self.n_kv_heads * self.head_dim


# Llama 3.1 8B (Llama 3 paper, table 3; HF config.json): 8.03e9 params, 32 layers, hidden 4096,
# 8 KV heads x 128 (GQA) → 131,072 KV bytes per token in bf16.
LLAMA_31_8B = ModelArch(
    name="Llama-3.1-8B", n_params=8.03e9, n_layers=32, d_model=4096, n_kv_heads=8, head_dim=128
)
# Llama 3.1 70B (same sources): 70.6e9 params, 80 layers, hidden 8192, 8 KV heads x 128
# → 327,680 KV bytes per token in bf16.
LLAMA_31_70B = ModelArch(
    name="Llama-3.1-70B", n_params=70.6e9, n_layers=80, d_model=8192, n_kv_heads=8, head_dim=128
)


@dataclass(frozen=True, slots=True)
class StepModel:
    """A model deployed on ``tp`` GPUs with tensor parallelism, and the efficiencies it reaches.

    FP8 variants: ``weight_bytes=1`` halves the weight stream and (with ``fp8_compute``)
    doubles the GEMM peak; ``kv_bytes=1`` halves KV reads and doubles KV capacity.
    """

    gpu: Gpu
    arch: ModelArch
    tp: int = 1
    weight_bytes: float = 2.0  # bytes per parameter: bf16
    kv_bytes: float = 2.0  # bytes per KV element: bf16
    fp8_compute: bool = False  # FP8 GEMMs run at twice the bf16 peak (Hopper tensor cores)
    mfu: float = 0.6  # GEMM model-FLOPs utilisation at large token counts (vLLM/TRT-LLM on H100)
    mfu_attn: float = 0.4  # FlashAttention-2/3 prefill on H100 reaches ~35-50 % of peak
    t0: float = 1e-3  # fixed per-step cost: scheduling, input prep, kernel launches, sampling
    t_allreduce: float = 25e-6  # one NVLink allreduce of a d_model activation (NCCL, 4-8 GPUs)

    @property
    def bandwidth(self) -> float:
        """Achievable HBM bytes/s of one GPU (weights and KV share the same HBM)."""
        return self.gpu.hbm_bandwidth * self.gpu.bandwidth_efficiency

    @property
    def weight_bytes_per_gpu(self) -> float:
        return self.arch.n_params * self.weight_bytes / self.tp

    @property
    def kv_bytes_per_token(self) -> float:
        """KV bytes of one token, summed over all GPUs."""
        return self.arch.kv_elements_per_token() * self.kv_bytes

    @property
    def gemm_flops(self) -> float:
        """Sustained GEMM FLOP/s of one GPU."""
        return self.mfu * self.gpu.peak_flops * (2.0 if self.fp8_compute else 1.0)

    @property
    def attn_flops(self) -> float:
        return self.mfu_attn * self.gpu.peak_flops


@dataclass(frozen=True, slots=True)
class BatchShape:
    """What one step computes: decode tokens (with the contexts they attend to) and prefill chunks.

    ``prefill`` holds ``(chunk_tokens, prefix_tokens)`` pairs: a chunk of a prompt and how much
    of that prompt is already in the KV cache (chunked prefill, recompute after preemption).
    """

    n_decode: int = 0
    decode_context_tokens: int = 0  # Σ context of the decoding sequences
    prefill: Sequence[tuple[int, int]] = ()

    @property
    def tokens(self) -> int:
        return self.n_decode + sum(chunk for chunk, _ in self.prefill)


def step_time(m: StepModel, batch: BatchShape) -> float:
    """Seconds of one forward pass (no jitter): the formula of DESIGN.md, "Simulated GPU server".

    Weights stream once per step however many tokens ride along (``t_w``); GEMM compute grows
    with the tokens (``t_c``); the two overlap, smoothed as ``sqrt(t_w² + t_c²)`` rather than a
    hard ``max`` so the knee is gradual as measured. Decode attention is a KV read, prefill
    attention is compute, quadratic in the chunk and linear in its prefix.
    """
    if batch.n_decode == 0 and not batch.prefill:
        return 0.0
    t_w = m.weight_bytes_per_gpu / m.bandwidth
    t_c = batch.tokens * 2.0 * m.arch.n_params / m.tp / m.gemm_flops
    t_lin = math.hypot(t_w, t_c)
    t_kv = batch.decode_context_tokens * m.kv_bytes_per_token / m.tp / m.bandwidth
    attn_work = sum(chunk * (prefix + chunk / 2.0) for chunk, prefix in batch.prefill)
    t_attn = attn_work * 4.0 * m.arch.n_layers * m.arch.d_model / m.tp / m.attn_flops
    t_tp = 2 * m.arch.n_layers * m.t_allreduce if m.tp > 1 else 0.0
    return m.t0 + t_lin + t_kv + t_attn + t_tp


def kv_cache_tokens(
    m: StepModel, gpu_memory_utilization: float = 0.9, runtime_reserve_bytes: float = 4 * GB
) -> int:
    """Tokens of KV cache the deployment holds, as vLLM sizes it at start-up.

    vLLM claims ``gpu_memory_utilization`` of HBM (default 0.9), keeps the weight shard and the
    activation/CUDA-graph peak it profiled (``runtime_reserve_bytes``, ~3-5 GB at 8K batched
    tokens), and gives the rest to the KV cache; each GPU holds ``1/tp`` of every token's KV.
    """
    free = m.gpu.hbm_bytes * gpu_memory_utilization - m.weight_bytes_per_gpu - runtime_reserve_bytes
    if free <= 0:
        raise ValueError(f"{m.arch.name} does not fit on {m.tp}x {m.gpu.name}")
    return int(free / (m.kv_bytes_per_token / m.tp))
