"""The usage record: what one request used, earned and cost, written exactly once.

Money is integer nano-dollars (1e-9 USD). DESIGN.md says micro-dollars, but at
cheap-tier prices ($0.14 per 1M tokens) a short request earns a few micro-dollars,
so rounding each record to micro-dollars would lose whole percent of revenue.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

NANO_PER_USD = 1_000_000_000

UsageSource = Literal["engine", "counted"]
Attribution = Literal["streamed", "spread"]
RecordStatus = Literal["ok", "client_disconnect", "upstream_error", "cancelled"]


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One finished request. ``prompt_tokens`` includes ``cached_tokens``, as in OpenAI's usage."""

    request_id: str
    ts: float  # wall-clock epoch seconds at completion
    tenant: str
    key_id: str  # a short non-secret id of the API key, never the key
    tier: str
    model: str
    backend: str | None  # None when the request never reached a backend
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    usage_source: UsageSource  # the engine reported usage, or the gateway counted it
    queue_ms: float
    ttft_ms: float | None  # None when no token reached the client
    e2e_ms: float
    charge_nano: int
    gpu_cost_nano: int
    gpu_seconds: float  # this request's share of the backend's GPU time
    attribution: Attribution  # tokens seen as they streamed, or spread evenly
    used_reserve: bool  # held a reserved slot (a reserve-using tier)
    status: RecordStatus = "ok"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UsageRecord:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
