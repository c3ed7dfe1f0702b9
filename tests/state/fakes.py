"""Test doubles for the state tests: a settable clock and a usage-record factory."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.metering.record import UsageRecord

T0 = datetime(2025, 1, 15, 12, 0, tzinfo=UTC).timestamp()  # a Wednesday noon, UTC


class FakeClock:
    """Wall-clock seconds that move only when a test says so."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_record(request_id: str, **overrides: Any) -> UsageRecord:
    values: dict[str, Any] = {
        "request_id": request_id,
        "ts": T0,
        "tenant": "acme",
        "key_id": "key-1",
        "tier": "fast",
        "model": "llama-8b",
        "backend": "gpu-a",
        "prompt_tokens": 100,
        "cached_tokens": 20,
        "completion_tokens": 50,
        "usage_source": "engine",
        "queue_ms": 1.0,
        "ttft_ms": 30.0,
        "e2e_ms": 400.0,
        "charge_nano": 1_000,
        "gpu_cost_nano": 400,
        "gpu_seconds": 0.0125,
        "attribution": "streamed",
        "used_reserve": False,
    }
    values.update(overrides)
    return UsageRecord(**values)
