"""Load-test arithmetic, pure: numbers in, numbers out, no I/O and no clock.

Names follow vLLM's ``benchmark_serving.py`` (``mean_ttft_ms``, ``median_tpot_ms``,
``p99_itl_ms``, ``request_throughput``, ``request_goodput``, ...); percentiles are numpy's
linear interpolation, as there. Empty inputs give ``None`` rather than vLLM's 0, so a metric
that was never measured is not mistaken for a fast one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

PERCENTILES: tuple[float, ...] = (50, 90, 99)


def percentile_key(p: float, name: str) -> str:
    """``p99_ttft_ms``; a fractional percentile keeps its decimals (``p99.9_ttft_ms``)."""
    return f"p{int(p) if float(p).is_integer() else p}_{name}"


def distribution(
    name: str, values: Sequence[float] | np.ndarray, percentiles: Iterable[float] = PERCENTILES
) -> dict[str, float | None]:
    """mean/median/std and the percentiles of ``values``, keyed like ``mean_ttft_ms``."""
    arr = np.asarray(values, dtype=float)
    ps = tuple(percentiles)
    if arr.size == 0:
        out: dict[str, float | None] = dict.fromkeys(
            (f"mean_{name}", f"median_{name}", f"std_{name}")
        )
        out.update({percentile_key(p, name): None for p in ps})
        return out
    out = {
        f"mean_{name}": float(arr.mean()),
        f"median_{name}": float(np.median(arr)),
        f"std_{name}": float(arr.std()),
    }
    for p, v in zip(ps, np.percentile(arr, ps), strict=True):
        out[percentile_key(p, name)] = float(v)
    return out


def tpot_ms(e2e_ms: float, ttft_ms: float | None, output_tokens: int | None) -> float | None:
    """Time per output token after the first: (E2E - TTFT) / (tokens - 1)."""
    if ttft_ms is None or output_tokens is None or output_tokens < 2:
        return None
    return (e2e_ms - ttft_ms) / (output_tokens - 1)


def tokens_per_s_per_user(tpot: float | None) -> float | None:
    """The speed one user sees while tokens stream: 1 / TPOT."""
    if tpot is None or tpot <= 0:
        return None
    return 1000.0 / tpot


def rate(count: float, duration_s: float) -> float | None:
    return count / duration_s if duration_s > 0 else None


@dataclass(frozen=True, slots=True)
class SLOTargets:
    ttft_ms: float | None = None
    tpot_ms: float | None = None
    e2e_ms: float | None = None


def meets_slo(slo: SLOTargets, ttft: float | None, tpot: float | None, e2e: float) -> bool:
    """vLLM's goodput test for one successful request: every given SLO is met (≤).

    As in vLLM, a request of fewer than two tokens has TPOT 0. Without streaming the first
    token arrives with the last, so TTFT is taken as E2E.
    """
    if slo.ttft_ms is not None and (e2e if ttft is None else ttft) > slo.ttft_ms:
        return False
    if slo.tpot_ms is not None and (tpot or 0.0) > slo.tpot_ms:
        return False
    return not (slo.e2e_ms is not None and e2e > slo.e2e_ms)


def error_counts(kinds: Iterable[str | None]) -> dict[str, int]:
    """Failures by kind, most frequent first."""
    return dict(Counter(k for k in kinds if k is not None).most_common())


def bin_width(span_s: float, target_bins: int = 120) -> float:
    """A round bin width giving at most about ``target_bins`` bins over ``span_s``."""
    for width in (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600):
        if span_s / width <= target_bins:
            return float(width)
    return float(np.ceil(span_s / target_bins / 600) * 600)


def timeline(
    intended_s: np.ndarray,
    sent_s: np.ndarray,
    end_s: np.ndarray,
    failed: np.ndarray,
    width_s: float,
) -> dict[str, list[float]]:
    """Per-bin rates (req/s) of intended sends, actual sends, completions and errors, and the
    requests in flight (sent, not yet ended) at the end of each bin."""
    span = float(max(end_s.max(initial=0.0), sent_s.max(initial=0.0), intended_s.max(initial=0.0)))
    n_bins = max(1, int(np.ceil(span / width_s + 1e-9)))
    edges = np.arange(n_bins + 1) * width_s

    def per_s(times: np.ndarray) -> list[float]:
        return (np.histogram(times, bins=edges)[0] / width_s).tolist()

    sent_sorted, end_sorted = np.sort(sent_s), np.sort(end_s)
    right = edges[1:]
    in_flight = np.searchsorted(sent_sorted, right, "right") - np.searchsorted(
        end_sorted, right, "right"
    )
    return {
        "t_s": edges[:-1].tolist(),
        "width_s": [width_s] * n_bins,
        "intended_per_s": per_s(intended_s),
        "sent_per_s": per_s(sent_s),
        "completed_per_s": per_s(end_s[~failed]),
        "errors_per_s": per_s(end_s[failed]),
        "in_flight": in_flight.astype(float).tolist(),
    }
