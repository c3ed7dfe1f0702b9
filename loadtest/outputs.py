"""Files a run writes: ``requests.jsonl`` (every gap), ``requests.csv`` (gap statistics),
``summary.json``. Times in the files are milliseconds; ``*_s`` fields are seconds from t=0.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from loadtest.record import RequestRecord

_BASE_FIELDS = (
    "index", "tier", "warmup", "intended_s", "sent_s", "end_s", "schedule_lag_ms",
    "queue_ms", "ttft_ms", "tpot_ms", "e2e_ms", "prompt_tokens", "completion_tokens",
    "usage_source", "requested_prompt_tokens", "requested_output_tokens", "status",
    "error_kind", "error_message", "request_id", "backend", "served_tier",
)  # fmt: skip
CSV_FIELDS = (*_BASE_FIELDS, "itl_count", "itl_mean_ms", "itl_p50_ms", "itl_p99_ms", "itl_max_ms")


def record_row(r: RequestRecord) -> dict[str, Any]:
    """One request as flat values (no ITL list)."""
    e2e = r.e2e_ms
    return {
        "index": r.index,
        "tier": r.tier,
        "warmup": r.warmup,
        "intended_s": _round(r.intended_s, 6),
        "sent_s": _round(r.sent_s, 6),
        "end_s": _round(r.end_s, 6),
        "schedule_lag_ms": _round(r.schedule_lag_ms),
        "queue_ms": r.queue_ms,
        "ttft_ms": _round(r.ttft_ms),
        "tpot_ms": _round(r.tpot_ms) if r.ok else None,
        "e2e_ms": _round(e2e),
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
        "usage_source": r.usage_source,
        "requested_prompt_tokens": r.requested_prompt_tokens,
        "requested_output_tokens": r.requested_output_tokens,
        "status": r.status,
        "error_kind": r.error_kind,
        "error_message": r.error_message,
        "request_id": r.request_id,
        "backend": r.backend,
        "served_tier": r.served_tier,
    }


def write_jsonl(path: Path, records: Iterable[RequestRecord]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for r in records:
            row = record_row(r)
            row["itl_ms"] = [round(g * 1000.0, 3) for g in r.itl_s]
            f.write(json.dumps(row, separators=(",", ":")))
            f.write("\n")


def write_csv(path: Path, records: Iterable[RequestRecord]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for r in records:
            row = record_row(r)
            row.update(_itl_stats(r.itl_s))
            writer.writerow({k: "" if v is None else v for k, v in row.items()})


def write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(_finite(obj), indent=2, sort_keys=False) + "\n", encoding="utf-8")


def write_run_files(
    out_dir: Path, records: Sequence[RequestRecord], summary: dict[str, Any]
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "summary.json", summary)
    write_jsonl(out_dir / "requests.jsonl", records)
    write_csv(out_dir / "requests.csv", records)


def _itl_stats(gaps_s: Sequence[float]) -> dict[str, Any]:
    if not gaps_s:
        return {
            "itl_count": 0,
            "itl_mean_ms": None,
            "itl_p50_ms": None,
            "itl_p99_ms": None,
            "itl_max_ms": None,
        }
    ms = np.asarray(gaps_s) * 1000.0
    p50, p99 = np.percentile(ms, (50, 99))
    return {
        "itl_count": int(ms.size),
        "itl_mean_ms": round(float(ms.mean()), 3),
        "itl_p50_ms": round(float(p50), 3),
        "itl_p99_ms": round(float(p99), 3),
        "itl_max_ms": round(float(ms.max()), 3),
    }


def _round(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


def _finite(obj: Any) -> Any:
    """JSON has no NaN or Infinity: write them as null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj
