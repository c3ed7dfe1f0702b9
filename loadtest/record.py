"""One request's measurements, as the client saw them; everything else is derived after the run.

Times are seconds from the start of the run (``time.perf_counter`` based). Latencies run
from ``intended_s``: in an open loop the scheduled send time (no coordinated omission), in a
closed loop the actual send (there ``intended_s == sent_s``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from loadtest.metrics import tpot_ms


@dataclass(slots=True)
class RequestRecord:
    index: int
    tier: str
    intended_s: float
    sent_s: float
    end_s: float
    first_token_s: float | None = None
    itl_s: list[float] = field(default_factory=list)  # gaps between content chunks
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    usage_source: str | None = None  # "server" (the response's usage) or "counted" (tiktoken)
    requested_prompt_tokens: int = 0
    requested_output_tokens: int = 0
    status: int | None = None  # HTTP status; None when no response arrived
    error_kind: str | None = None
    error_message: str | None = None
    queue_ms: float | None = None  # x-tokengate-queue-ms
    request_id: str | None = None  # x-request-id
    backend: str | None = None  # x-tokengate-backend
    served_tier: str | None = None  # x-tokengate-tier
    warmup: bool = False

    @property
    def ok(self) -> bool:
        return self.error_kind is None

    @property
    def schedule_lag_ms(self) -> float:
        return (self.sent_s - self.intended_s) * 1000.0

    @property
    def ttft_ms(self) -> float | None:
        if self.first_token_s is None:
            return None
        return (self.first_token_s - self.intended_s) * 1000.0

    @property
    def e2e_ms(self) -> float:
        return (self.end_s - self.intended_s) * 1000.0

    @property
    def tpot_ms(self) -> float | None:
        """(E2E - TTFT) / (tokens - 1); None without a first token or with fewer than 2 tokens."""
        return tpot_ms(self.e2e_ms, self.ttft_ms, self.completion_tokens)
